"""The ``serving`` resource of the batch-prediction assets: the prediction cache (Redis) and the model registry."""

from __future__ import annotations

import dagster as dg

from football_platform.contracts import MODEL_NAME, PRODUCTION_ALIAS
from football_platform.resources.secrets import resolved, secret
from football_platform.settings import Settings


class ServingResource(dg.ConfigurableResource):
    """Where batch predictions are cached and which registered model they come from."""

    redis_url: str | None = None
    redis_key_prefix: str = "football"
    mlflow_tracking_uri: str = ""
    model_name: str = MODEL_NAME
    model_alias: str = PRODUCTION_ALIAS
    as_of: str | None = None

    def redis(self):
        url = resolved(self.redis_url)
        if not url:
            return None
        from football_platform.lib.publish import redis_client

        return redis_client(url)

    def load_model(self):
        """``(model, version)`` of ``models:/<name>@<alias>`` (a baseline model comes wrapped, see
        :func:`football_platform.lib.registry.load_model_version`)."""
        from football_platform.lib.registry import load_model_version

        model, version = load_model_version(self.mlflow_tracking_uri, self.model_name, self.model_alias)
        return model, str(version.version)


def serving_resource(settings: Settings) -> ServingResource:
    return ServingResource(
        redis_url=secret(settings, "redis_url"), redis_key_prefix=settings.redis_key_prefix,
        mlflow_tracking_uri=settings.mlflow_tracking_uri, as_of=settings.as_of,
    )
