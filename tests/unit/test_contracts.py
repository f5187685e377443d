"""The shared names agree with what they name: dbt asset keys with the manifest, pools with the instance config,
and secret-bearing resource fields reach the Dagster UI by variable name only."""

from __future__ import annotations

import dagster as dg
import yaml
from dagster_dbt import get_asset_key_for_model

from football_platform import contracts
from football_platform.defs.common.keys import dbt_model_key
from football_platform.defs.transform import build_dbt_assets
from football_platform.resources import build_resources
from football_platform.settings import PROJECT_ROOT, Settings, get_settings


def test_dbt_model_keys_match_the_manifest():
    dbt = build_dbt_assets("duckdb")
    for model, path in contracts.DBT_MODEL_KEYS.items():
        assert get_asset_key_for_model([dbt], model) == dg.AssetKey(list(path)) == dbt_model_key(model)


def test_every_warehouse_writer_is_in_the_pool():
    from football_platform.definitions import build_definitions

    graph = build_definitions(Settings()).resolve_asset_graph()
    writers = {key.to_user_string() for key in graph.get_all_asset_keys()
               if (graph.get(key).metadata or {}).get("dagster/table_name") or key.path[0] in ("analytics", "staging")}
    pools = {key.to_user_string(): graph.get(key).pools for key in graph.get_all_asset_keys()}
    for name in writers | {"raw_matches", "raw_fixtures", "batch_predictions", "prediction_performance"}:
        assert pools[name] == {contracts.WAREHOUSE_POOL}, (name, pools[name])


def test_instance_configs_limit_the_pool_the_code_uses():
    for path in (PROJECT_ROOT / "dagster.yaml", PROJECT_ROOT / "deploy" / "dagster" / "dagster.yaml"):
        config = yaml.safe_load(path.read_text())
        pools = config["concurrency"]["pools"]
        assert pools.get("default_limit") == 1 or contracts.WAREHOUSE_POOL in str(pools), path


def test_secret_urls_are_env_vars(monkeypatch):
    monkeypatch.setenv("FOOTBALL_ENV", "prod")
    monkeypatch.setenv("DATABASE_URL", "postgresql://etl:s3cret@db:5432/warehouse")
    monkeypatch.setenv("REDIS_URL", "redis://:s3cret@cache:6379/0")
    monkeypatch.setenv("FOOTBALL_ALERT_WEBHOOK_URL", "https://hooks.example/s3cret")
    monkeypatch.delenv("FEAST_REGISTRY_URL", raising=False)
    resources = build_resources(get_settings())
    fields = {
        ("warehouse", "database_url"): "DATABASE_URL",
        ("dbt", "database_url"): "DATABASE_URL",
        ("feast", "database_url"): "DATABASE_URL",
        ("feast", "registry_url"): "DATABASE_URL",
        ("feast", "redis_url"): "REDIS_URL",
        ("serving", "redis_url"): "REDIS_URL",
        ("alerts", "webhook_url"): "FOOTBALL_ALERT_WEBHOOK_URL",
    }
    for (key, field), variable in fields.items():
        value = getattr(resources[key], field)
        assert isinstance(value, dg.EnvVar) and value.env_var_name == variable, (key, field)
    # Called directly (outside a run), the resources still reach the stores.
    assert resources["warehouse"].get().url == "postgresql://etl:s3cret@db:5432/warehouse"
    assert resources["dbt"].dbt_environment()["FOOTBALL_PG_PASSWORD"] == "s3cret"
    assert resources["feast"].config_dict()["online_store"]["type"] == "redis"


def test_values_not_from_the_environment_stay_plain(tmp_path):
    settings = Settings(profile="prod", database_url="postgresql://etl@db:5432/warehouse", redis_url="redis://cache")
    resources = build_resources(settings)
    assert resources["warehouse"].database_url == "postgresql://etl@db:5432/warehouse"
    assert resources["serving"].redis_url == "redis://cache"
    local = build_resources(Settings(warehouse_path=tmp_path / "w.duckdb"))  # the local profile needs no variable
    assert local["warehouse"].get().path == tmp_path / "w.duckdb"
