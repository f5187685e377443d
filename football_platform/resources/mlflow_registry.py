"""The MLflow resource: tracking server / registry of the active profile."""

from __future__ import annotations

import dagster as dg

from football_platform.contracts import EXPERIMENT_NAME, MODEL_NAME
from football_platform.lib.registry import MlflowTarget
from football_platform.settings import Settings


class MlflowResource(dg.ConfigurableResource):
    """Where runs and registered models go (SQLite + local artifacts locally, a server in prod)."""

    tracking_uri: str
    experiment_name: str = EXPERIMENT_NAME
    registered_model_name: str = MODEL_NAME
    artifact_location: str | None = None

    def target(self) -> MlflowTarget:
        return MlflowTarget(
            tracking_uri=self.tracking_uri,
            experiment_name=self.experiment_name,
            model_name=self.registered_model_name,
            artifact_location=self.artifact_location,
        )


def mlflow_resource(settings: Settings) -> MlflowResource:
    """Local profile: artifacts under ``<state_dir>/mlartifacts``; prod: the server's artifact store."""
    location = None
    if not settings.is_prod and not settings.mlflow_tracking_uri.startswith(("http://", "https://")):
        location = (settings.state_dir.resolve() / "mlartifacts").as_uri()
    return MlflowResource(tracking_uri=settings.mlflow_tracking_uri, artifact_location=location)
