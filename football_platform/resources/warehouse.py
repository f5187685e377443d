"""The ``warehouse`` and ``football_source`` resources."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from football_platform.lib.sources import open_source
from football_platform.lib.warehouse import Warehouse
from football_platform.resources.secrets import resolved, secret
from football_platform.settings import Settings


class WarehouseResource(dg.ConfigurableResource):
    """The analytical warehouse: a DuckDB file locally, PostgreSQL in prod (``database_url``: ``EnvVar`` when it
    came from ``DATABASE_URL``)."""

    kind: str = "duckdb"
    duckdb_path: str | None = None
    database_url: str | None = None
    # Caches derived from the warehouse's content (the team-state engine checkpoint); None: no cache.
    cache_dir: str | None = None

    def get(self) -> Warehouse:
        path = Path(self.duckdb_path) if self.duckdb_path else None
        return Warehouse(kind=self.kind, path=path, url=resolved(self.database_url))


class FootballDataSourceResource(dg.ConfigurableResource):
    """Where football-data.co.uk files come from: a directory in the site's layout, or an HTTP base URL."""

    location: str
    leagues: list[str]

    def open(self):
        return open_source(self.location)


def warehouse_resource(settings: Settings) -> WarehouseResource:
    cache_dir = str(settings.state_dir / "cache")
    if settings.is_prod:
        return WarehouseResource(kind="postgres", database_url=secret(settings, "database_url"), cache_dir=cache_dir)
    return WarehouseResource(kind="duckdb", duckdb_path=str(settings.warehouse_path), cache_dir=cache_dir)


def source_resource(settings: Settings) -> FootballDataSourceResource:
    return FootballDataSourceResource(location=settings.data_source, leagues=list(settings.leagues))
