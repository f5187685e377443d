"""The one place that picks resources for the active profile (``FOOTBALL_ENV``).

Assets ask for resources by key (``warehouse``, ``football_source``, ``dbt``, ``feast``, ``mlflow``, ``serving``,
``alerts``) and never know which profile they run in. One module per store; this package imports no domain of
``defs/`` (the domains import it). Fields that may carry a secret are ``dg.EnvVar`` (see :mod:`.secrets`).
"""

from __future__ import annotations

from typing import Any

from football_platform.resources.alerts import AlertsResource, alerts_resource
from football_platform.resources.dbt_cli import FootballDbtCliResource, build_dbt_resource
from football_platform.resources.feast_store import FeastResource, feast_resource
from football_platform.resources.mlflow_registry import MlflowResource, mlflow_resource
from football_platform.resources.prediction_cache import ServingResource, serving_resource
from football_platform.resources.warehouse import (
    FootballDataSourceResource,
    WarehouseResource,
    source_resource,
    warehouse_resource,
)
from football_platform.settings import Settings, get_settings

__all__ = [
    "AlertsResource",
    "FeastResource",
    "FootballDataSourceResource",
    "FootballDbtCliResource",
    "MlflowResource",
    "ServingResource",
    "WarehouseResource",
    "build_resources",
    "warehouse_resource",
]


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Every resource the definitions use, for one profile (Feast and MLflow are imported on first use)."""
    settings = settings or get_settings()
    return {
        "warehouse": warehouse_resource(settings),
        "football_source": source_resource(settings),
        "alerts": alerts_resource(settings),
        "mlflow": mlflow_resource(settings),
        "serving": serving_resource(settings),
        "dbt": build_dbt_resource(settings),
        "feast": feast_resource(settings),
    }
