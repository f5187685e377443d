"""The dbt resource's pure parts: DATABASE_URL -> dbt-postgres parts, profile -> environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from football_platform.defs.transform.assets import DbtBuildConfig, dbt_build_args
from football_platform.resources.dbt_cli import (
    PARTIAL_PARSE_FILE,
    DatabaseUrlError,
    _process_environment,
    build_dbt_resource,
    dbt_env,
    dbt_env_for_settings,
    dbt_env_from_database_url,
    keep_parse_state,
)
from football_platform.settings import DBT_PROJECT_DIR, Settings


def test_full_url_with_escaped_password() -> None:
    env = dbt_env_from_database_url("postgresql://analyst:p%40ss%3Aw0rd@db.internal:5433/warehouse?sslmode=require")
    assert env == {
        "FOOTBALL_PG_HOST": "db.internal",
        "FOOTBALL_PG_PORT": "5433",
        "FOOTBALL_PG_USER": "analyst",
        "FOOTBALL_PG_PASSWORD": "p@ss:w0rd",  # dbt wants the raw password
        "FOOTBALL_PG_DBNAME": "warehouse",
        "FOOTBALL_PG_SSLMODE": "require",
    }


def test_missing_parts_take_libpq_defaults() -> None:
    env = dbt_env_from_database_url("postgres://127.0.0.1/football")
    assert env["FOOTBALL_PG_PORT"] == "5432"
    assert env["FOOTBALL_PG_USER"] == "postgres"
    assert env["FOOTBALL_PG_PASSWORD"] == ""
    assert env["FOOTBALL_PG_DBNAME"] == "football"
    assert "FOOTBALL_PG_SSLMODE" not in env
    # no database in the path: libpq uses the user's name
    assert dbt_env_from_database_url("postgresql://etl@pg")["FOOTBALL_PG_DBNAME"] == "etl"


def test_sqlalchemy_driver_suffix_and_socket_host() -> None:
    env = dbt_env_from_database_url("postgresql+psycopg://u:p@/warehouse?host=/var/run/postgresql")
    assert env["FOOTBALL_PG_HOST"] == "/var/run/postgresql"
    assert env["FOOTBALL_PG_USER"] == "u" and env["FOOTBALL_PG_DBNAME"] == "warehouse"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "postgresql://"),
        ("postgresql://u@h:notaport/db", "invalid port"),
    ],
)
def test_bad_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message):
        dbt_env_from_database_url(url)


def test_local_profile_points_dbt_at_an_absolute_duckdb_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = dbt_env("local", Path("wh/warehouse.duckdb"), None)
    assert env == {"FOOTBALL_DBT_TARGET": "local", "FOOTBALL_WAREHOUSE": str(tmp_path / "wh" / "warehouse.duckdb")}


def test_prod_profile_needs_a_database_url() -> None:
    with pytest.raises(DatabaseUrlError, match="DATABASE_URL"):
        dbt_env("prod", None, None)
    with pytest.raises(ValueError, match="unknown profile"):
        dbt_env("staging", None, None)


def test_resource_for_each_profile(tmp_path: Path) -> None:
    local = build_dbt_resource(Settings(profile="local", warehouse_path=tmp_path / "w.duckdb"))
    assert local.target == "local" and local.profile == "football"
    assert Path(local.project_dir) == DBT_PROJECT_DIR and Path(local.profiles_dir or "") == DBT_PROJECT_DIR
    assert local.dbt_environment()["FOOTBALL_WAREHOUSE"] == str(tmp_path / "w.duckdb")
    assert local.database_url is None

    prod_settings = Settings(profile="prod", database_url="postgresql://u:s3cret@pg:5432/wh")
    prod = build_dbt_resource(prod_settings)
    assert prod.target == "prod"
    env = prod.dbt_environment()
    # every invocation's target directory (and the partial parse state kept between runs) under the state dir
    assert env.pop("DBT_TARGET_PATH") == str((prod_settings.state_dir / "dbt_target").resolve())
    assert env == dbt_env_for_settings(prod_settings)
    assert prod.dbt_environment()["FOOTBALL_PG_PASSWORD"] == "s3cret"

    with pytest.raises(DatabaseUrlError):
        build_dbt_resource(Settings(profile="prod", database_url=None))


def test_environment_overrides_are_restored() -> None:
    key_new, key_existing = "FOOTBALL_TEST_ONLY_NEW", "FOOTBALL_TEST_ONLY_EXISTING"
    os.environ[key_existing] = "before"
    try:
        with _process_environment({key_new: "a", key_existing: "b"}):
            assert os.environ[key_new] == "a" and os.environ[key_existing] == "b"
        assert key_new not in os.environ and os.environ[key_existing] == "before"
        with pytest.raises(RuntimeError), _process_environment({key_new: "x"}):
            raise RuntimeError("dbt failed")
        assert key_new not in os.environ  # restored on error too
    finally:
        os.environ.pop(key_existing, None)


def test_full_refresh_switch() -> None:
    assert dbt_build_args(DbtBuildConfig()) == ["build"]
    assert dbt_build_args(DbtBuildConfig(full_refresh=True)) == ["build", "--full-refresh"]


def test_partial_parse_state_is_kept_between_runs(tmp_path: Path) -> None:
    target = tmp_path / "dbt_target"
    runs = []
    for i in range(4):
        run = target / f"football_dbt_models-run{i}"
        run.mkdir(parents=True)
        (run / PARTIAL_PARSE_FILE).write_bytes(f"state {i}".encode())
        os.utime(run, (1_000_000 + i, 1_000_000 + i))
        runs.append(run)
    assert keep_parse_state(target, runs[-1], keep_runs=2)
    assert (target / PARTIAL_PARSE_FILE).read_bytes() == b"state 3"  # the seed dagster-dbt copies into the next run
    assert sorted(p.name for p in target.iterdir() if p.is_dir()) == [runs[2].name, runs[3].name]
    assert not keep_parse_state(target, tmp_path / "no-such-run")


def test_local_resource_skips_the_in_process_adapter(tmp_path: Path) -> None:
    local = build_dbt_resource(Settings(profile="local", warehouse_path=tmp_path / "w.duckdb", state_dir=tmp_path))
    assert local.target_dir == str(tmp_path / "dbt_target")
    # DuckDB: table metadata comes from the asset's own connection; dbt's adapter is not loaded in this process
    assert local._initialize_dbt_core_adapter(["build"]) is None

    class Invocation:
        target_path = tmp_path / "dbt_target" / "run"

        @staticmethod
        def is_successful() -> bool:
            return False

    assert not local.keep_partial_parse(Invocation())  # a failed run's parse state is never kept
