"""Season codes and profile settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from football_platform.lib.feature_store import store_config_for_settings
from football_platform.lib.seasons import (
    all_seasons,
    current_season,
    season_code,
    season_range,
    season_start_year,
    season_window,
)
from football_platform.lib.warehouse import Warehouse
from football_platform.settings import Settings, get_settings


def test_season_codes_cross_the_century():
    assert season_code(1999) == "9900"
    assert season_code(2023) == "2324"
    assert season_start_year("9900") == 1999
    assert season_start_year("0001") == 2000
    assert season_start_year("9394") == 1993


@pytest.mark.parametrize("bad", ["23", "2325", "abcd", "23245"])
def test_bad_season_codes_say_why(bad: str):
    with pytest.raises(ValueError, match="season code"):
        season_start_year(bad)


def test_current_season_turns_over_on_the_first_of_july():
    assert current_season(dt.date(2024, 6, 30)) == "2324"
    assert current_season(dt.date(2024, 7, 1)) == "2425"


def test_all_seasons_start_in_1993():
    seasons = all_seasons(until="2324")
    assert seasons[0] == "9394" and seasons[-1] == "2324" and len(seasons) == 31


def test_season_ranges():
    assert season_range("2122:2324") == ["2122", "2223", "2324"]
    assert season_range("9899:0001") == ["9899", "9900", "0001"]
    assert season_range("1920,2122") == ["1920", "2122"]
    with pytest.raises(ValueError, match="backwards"):
        season_range("2324:2122")


def test_covid_season_window_reaches_august():
    start, end = season_window("1920")
    assert start == dt.date(2019, 7, 1) and end >= dt.date(2020, 8, 23)


def test_local_profile_is_the_default_and_embedded(tmp_path: Path):
    settings = get_settings({"FOOTBALL_STATE_DIR": str(tmp_path)})
    assert settings.profile == "local" and settings.warehouse_kind == "duckdb"
    assert settings.warehouse_path == tmp_path / "warehouse.duckdb"
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert settings.redis_url is None


def test_prod_profile_needs_a_database_url():
    with pytest.raises(ValueError, match="DATABASE_URL"):
        get_settings({"FOOTBALL_ENV": "prod"})
    settings = get_settings({"FOOTBALL_ENV": "prod", "DATABASE_URL": "postgresql://u@db:5432/warehouse"})
    assert settings.warehouse_kind == "postgres" and settings.redis_url == "redis://127.0.0.1:6379/0"


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="FOOTBALL_ENV"):
        get_settings({"FOOTBALL_ENV": "staging"})


def test_feast_registry_defaults_to_the_warehouse_database():
    # A single-database setup: no FEAST_REGISTRY_URL, so the SQL registry shares DATABASE_URL's database.
    url = "postgresql://u:pw@db:5432/warehouse"
    settings = get_settings({"FOOTBALL_ENV": "prod", "DATABASE_URL": url})
    assert settings.feast_registry_url == url
    assert get_settings({"FOOTBALL_ENV": "prod", "DATABASE_URL": url, "FEAST_REGISTRY_URL": ""}).feast_registry_url == url
    # Settings built by hand (tests, benchmarks) fall back the same way.
    assert Settings(profile="prod", database_url=url).feast_registry_database_url == url


def test_feast_registry_url_overrides_the_registry_database_only():
    env = {
        "FOOTBALL_ENV": "prod",
        "DATABASE_URL": "postgresql://u:pw@db:5432/warehouse",
        "FEAST_REGISTRY_URL": "postgresql://u:pw@db:5432/feast_registry?sslmode=require",
        "REDIS_URL": "redis://cache:6379/0",
    }
    settings = get_settings(env)
    assert settings.feast_registry_url == env["FEAST_REGISTRY_URL"]
    assert settings.database_url == env["DATABASE_URL"]
    config = store_config_for_settings(settings)
    assert config["registry"]["path"] == "postgresql+psycopg://u:pw@db:5432/feast_registry?sslmode=require"
    # The offline store (feature tables) stays in the warehouse.
    assert config["offline_store"]["database"] == "warehouse"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mysql://u:hunter2@db:3306/feast_registry", "postgresql://"),
        ("db:5432/feast_registry", "postgresql://"),
        ("postgresql://u:hunter2@db:port/feast_registry", "invalid port"),
    ],
)
def test_bad_feast_registry_url_names_the_variable_not_the_password(value: str, message: str):
    env = {"FOOTBALL_ENV": "prod", "DATABASE_URL": "postgresql://u@db:5432/warehouse", "FEAST_REGISTRY_URL": value}
    with pytest.raises(ValueError, match="FEAST_REGISTRY_URL") as excinfo:
        get_settings(env)
    assert message in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)


def test_settings_repr_hides_connection_secrets():
    settings = get_settings({
        "FOOTBALL_ENV": "prod",
        "DATABASE_URL": "postgresql://u:pw-warehouse@db:5432/warehouse",
        "FEAST_REGISTRY_URL": "postgresql://u:pw-registry@db:5432/feast_registry",
        "REDIS_URL": "redis://:pw-redis@cache:6379/0",
        "FOOTBALL_API_KEYS": "key-one",
    })
    text = repr(settings)
    assert "profile='prod'" in text
    for secret in ("pw-warehouse", "pw-registry", "pw-redis", "key-one"):
        assert secret not in text


@pytest.mark.parametrize("url", [
    "postgresql://football:S3cret-pw@db.internal:5432/warehouse",
    "postgresql://football@db.internal/warehouse?password=S3cret-pw&sslmode=require",
    "postgresql://football:S3cret@pw@db.internal:5432/warehouse",  # an unencoded @ in the password
    "postgresql://football:S3cret-pw@db.internal:5432/warehouse?sslpassword=S3cret-pw",
])
def test_warehouse_description_never_carries_the_password(url):
    """Issue 18: log lines and errors name the warehouse by user, host, port and database, parsed from the URL:
    a password in the query string or with an unencoded @ (which the old pattern missed) never reaches them."""
    described = Warehouse(kind="postgres", url=url).describe()
    assert "S3cret" not in described and "pw" not in described.split("@")[0]
    assert described.startswith("postgres:postgresql://football@db.internal") and described.endswith("/warehouse")
    assert Warehouse(kind="postgres", url="postgresql://u:p@[bad/db").describe() == "postgres:<unparseable URL>"
