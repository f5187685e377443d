"""Resources of the serving assets: the prediction cache (Redis) and the model registry location."""

from __future__ import annotations

import dagster as dg

from football_platform.lib.predictions import MODEL_NAME
from football_platform.settings import Settings


class ServingResource(dg.ConfigurableResource):
    """Where batch predictions are cached and which registered model they come from."""

    redis_url: str | None = None
    redis_key_prefix: str = "football"
    mlflow_tracking_uri: str = ""
    model_name: str = MODEL_NAME
    model_alias: str = "production"
    as_of: str | None = None

    def redis(self):
        if not self.redis_url:
            return None
        from serving.features import redis_client

        return redis_client(self.redis_url)

    def load_model(self):
        """``(native CatBoost model, version)`` of ``models:/<name>@<alias>``."""
        import mlflow.catboost
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.mlflow_tracking_uri, registry_uri=self.mlflow_tracking_uri)
        version = client.get_model_version_by_alias(self.model_name, self.model_alias)
        mlflow.set_tracking_uri(self.mlflow_tracking_uri)
        mlflow.set_registry_uri(self.mlflow_tracking_uri)
        return mlflow.catboost.load_model(f"models:/{self.model_name}/{version.version}"), str(version.version)


def serving_resources(settings: Settings) -> dict[str, ServingResource]:
    return {"serving": ServingResource(
        redis_url=settings.redis_url, redis_key_prefix=settings.redis_key_prefix,
        mlflow_tracking_uri=settings.mlflow_tracking_uri, as_of=settings.as_of,
    )}
