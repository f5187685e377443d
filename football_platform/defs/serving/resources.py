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
        """``(model, version)`` of ``models:/<name>@<alias>`` (a baseline model comes wrapped, see
        :func:`football_platform.lib.registry.load_model_version`)."""
        from football_platform.lib.registry import load_model_version

        model, version = load_model_version(self.mlflow_tracking_uri, self.model_name, self.model_alias)
        return model, str(version.version)


def serving_resources(settings: Settings) -> dict[str, ServingResource]:
    return {"serving": ServingResource(
        redis_url=settings.redis_url, redis_key_prefix=settings.redis_key_prefix,
        mlflow_tracking_uri=settings.mlflow_tracking_uri, as_of=settings.as_of,
    )}
