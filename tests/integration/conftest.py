"""Fixtures shared by the serving test modules."""

from __future__ import annotations

import pytest

from benchmarks.serving_env import ServingEnv, build_env, clean_redis, publish_batch
from tests.conftest import REDIS_TEST_URL


@pytest.fixture(scope="session")
def env(tmp_path_factory) -> ServingEnv:
    """The serving environment (warehouse, MLflow registry, Feast online stores, a published batch), built once."""
    env = build_env(tmp_path_factory.getbasetemp() / "serving_env", REDIS_TEST_URL)
    env.__dict__["predictions"] = publish_batch(env)
    yield env
    clean_redis(env.settings)
