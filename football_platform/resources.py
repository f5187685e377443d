"""The one place that picks resources for the active profile (``FOOTBALL_ENV``).

Assets ask for resources by key (``warehouse``, ``football_source``, ``dbt``, ...)
and never know which profile they run in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from football_platform.lib.sources import open_source
from football_platform.lib.warehouse import Warehouse
from football_platform.settings import Settings, get_settings


class WarehouseResource(dg.ConfigurableResource):
    """The analytical warehouse: a DuckDB file locally, PostgreSQL in prod."""

    kind: str = "duckdb"
    duckdb_path: str | None = None
    database_url: str | None = None
    # Caches derived from the warehouse's content (the team-state engine checkpoint); None: no cache.
    cache_dir: str | None = None

    def get(self) -> Warehouse:
        path = Path(self.duckdb_path) if self.duckdb_path else None
        return Warehouse(kind=self.kind, path=path, url=self.database_url)


class FootballDataSourceResource(dg.ConfigurableResource):
    """Where football-data.co.uk files come from: a directory in the site's layout, or an HTTP base URL."""

    location: str
    leagues: list[str]

    def open(self):
        return open_source(self.location)


def warehouse_resource(settings: Settings) -> WarehouseResource:
    cache_dir = str(settings.state_dir / "cache")
    if settings.is_prod:
        return WarehouseResource(kind="postgres", database_url=settings.database_url, cache_dir=cache_dir)
    return WarehouseResource(kind="duckdb", duckdb_path=str(settings.warehouse_path), cache_dir=cache_dir)


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Every resource the definitions use, for one profile."""
    settings = settings or get_settings()
    # Imported here: the automation package imports this module, so a top-level import would be circular.
    from football_platform.defs.automation.resources import AlertsResource
    from football_platform.defs.ml.resources import mlflow_resource
    from football_platform.defs.serving import serving_resources
    from football_platform.defs.transform import build_dbt_resource

    resources: dict[str, Any] = {
        "warehouse": warehouse_resource(settings),
        "football_source": FootballDataSourceResource(
            location=settings.data_source, leagues=list(settings.leagues)
        ),
        "alerts": AlertsResource(webhook_url=settings.alert_webhook_url),
        "mlflow": mlflow_resource(settings),
        **serving_resources(settings),
        "dbt": build_dbt_resource(settings),
    }
    from football_platform.defs.features.resources import feast_resource  # Feast itself is imported lazily

    resources["feast"] = feast_resource(settings)
    return resources
