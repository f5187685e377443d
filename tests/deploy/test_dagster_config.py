"""deploy/dagster/: the prod instance config loads into a real Dagster instance on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import yaml

from .conftest import REPO_ROOT

DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster" / "dagster.yaml"
WORKSPACE_YAML = REPO_ROOT / "deploy" / "dagster" / "workspace.yaml"


def test_instance_config_builds_a_postgres_instance(tmp_path, temp_database_factory):
    db = temp_database_factory("deploy_dagster")
    home = tmp_path / "dagster_home"
    home.mkdir()
    text = DAGSTER_YAML.read_text().replace("/opt/dagster/dagster_home", str(home))
    (home / "dagster.yaml").write_text(text)
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": db,
    }
    # A fresh interpreter: DagsterInstance.get() reads DAGSTER_HOME once per process.
    probe = textwrap.dedent(
        """
        import json
        from dagster import DagsterInstance
        inst = DagsterInstance.get()
        cfg = inst.get_concurrency_config()
        print(json.dumps({
            "run_storage": type(inst.run_storage).__name__,
            "event_storage": type(inst.event_log_storage).__name__,
            "schedule_storage": type(inst.schedule_storage).__name__,
            "coordinator": type(inst.run_coordinator).__name__,
            "retries": [inst.run_retries_enabled, inst.run_retries_max_retries],
            "max_runs": cfg.run_queue_config.max_concurrent_runs,
            "tag_limits": cfg.run_queue_config.tag_concurrency_limits,
            "default_pool_limit": cfg.pool_config.default_pool_limit,
            "launcher": type(inst.run_launcher).__name__,
        }))
        inst.get_runs()  # the schema really exists in the temp database
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["run_storage"] == "PostgresRunStorage"
    assert info["event_storage"] == "PostgresEventLogStorage"
    assert info["schedule_storage"] == "PostgresScheduleStorage"
    assert info["coordinator"] == "QueuedRunCoordinator"
    assert info["retries"] == [True, 2]
    assert info["max_runs"] == 3  # 4 cores: three runs beside webserver, daemon and API
    assert {"key": "football/warehouse_writer", "limit": 1} in info["tag_limits"]
    assert info["default_pool_limit"] == 1
    assert info["launcher"] == "DefaultRunLauncher"


def test_workspace_points_at_the_grpc_code_location(monkeypatch):
    from dagster._config import process_config
    from dagster._core.workspace.config_schema import WORKSPACE_CONFIG_SCHEMA

    config = yaml.safe_load(WORKSPACE_YAML.read_text())
    monkeypatch.setenv("DAGSTER_GRPC_HOST", "dagster-code")
    result = process_config(WORKSPACE_CONFIG_SCHEMA, config)
    assert result.success, result.errors
    assert result.value["load_from"][0]["grpc_server"]["host"] == "dagster-code"
    (entry,) = config["load_from"]
    server = entry["grpc_server"]
    assert server["port"] == 4000
    assert server["host"] == {"env": "DAGSTER_GRPC_HOST"}
    assert server["location_name"] == "football_platform"


def test_local_and_prod_instances_share_the_warehouse_pool_limit():
    local = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text()) if (REPO_ROOT / "dagster.yaml").exists() else None
    prod = yaml.safe_load(DAGSTER_YAML.read_text())
    assert prod["concurrency"]["pools"]["default_limit"] == 1
    if local is not None:
        assert local["concurrency"]["pools"]["default_limit"] == prod["concurrency"]["pools"]["default_limit"]
