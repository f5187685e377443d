"""The ``feast`` resource: a Feast FeatureStore for the active profile, built from Settings (no YAML on disk)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from football_platform.lib import feature_store as fs
from football_platform.resources.secrets import resolved, secret
from football_platform.settings import FEATURE_REPO_DIR, Settings


class FeastResource(dg.ConfigurableResource):
    """Feast for one profile: file offline store + SQLite online store under ``state_dir/feast`` (local), or
    PostgreSQL offline store + Redis online store + SQL registry (prod). Feast is imported on first use only."""

    profile: str = "local"
    state_dir: str
    database_url: str | None = None
    # prod: the SQL registry's own database (FEAST_REGISTRY_URL, database `feast_registry` in every deployment);
    # None keeps the registry in the warehouse database of ``database_url``.
    registry_url: str | None = None
    redis_url: str | None = None
    redis_key_prefix: str = "football"
    repo_path: str = str(FEATURE_REPO_DIR)

    @property
    def paths(self) -> fs.FeastPaths:
        return fs.FeastPaths.for_state_dir(self.state_dir)

    @property
    def project(self) -> str:
        return fs.project_name(self.redis_key_prefix)

    def config_dict(self) -> dict[str, Any]:
        return fs.store_config(self.profile, self.state_dir, resolved(self.database_url), resolved(self.redis_url),
                               self.redis_key_prefix, resolved(self.registry_url))

    def store(self):
        """A FeatureStore (imports Feast, ~7 s the first time in a process)."""
        from feast import FeatureStore

        if self.profile != "prod":
            self.paths.root.mkdir(parents=True, exist_ok=True)
        return FeatureStore(config=fs.repo_config(self.config_dict(), Path(self.repo_path)))

    def objects(self) -> dict[str, Any]:
        return fs.build_feast_objects(self.profile, self.paths)


def feast_resource(settings: Settings) -> FeastResource:
    registry_url = (secret(settings, "feast_registry_url") if settings.feast_registry_url
                    else secret(settings, "database_url"))
    return FeastResource(
        profile=settings.profile,
        state_dir=str(settings.state_dir),
        database_url=secret(settings, "database_url") if settings.is_prod else None,
        registry_url=registry_url if settings.is_prod else None,
        redis_url=secret(settings, "redis_url") if settings.is_prod else None,
        redis_key_prefix=settings.redis_key_prefix,
    )
