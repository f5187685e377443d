"""The cleanup job: old predictions, old rejected rows and old Dagster runs go; recent ones stay."""

import datetime as dt
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from football_platform.defs.automation.jobs import cleanup_job
from football_platform.lib.warehouse import Warehouse
from football_platform.resources import WarehouseResource

NOW = dt.datetime.now(dt.UTC)


@dg.op
def noop() -> None:
    return None


@dg.job
def tiny_job():
    noop()


def _seed_warehouse(store: Warehouse) -> None:
    store.ensure_raw_schema()
    with store.connect() as conn, conn.transaction():
        for days, line in ((200, 1), (91, 2), (89, 3), (1, 4)):
            conn.execute(
                "INSERT INTO raw.rejected_rows (source_file, source_sha256, source_line, column_name, value, reason, "
                "rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ["2324/E0.csv", "abc", line, "FTHG", "x", "not an integer", NOW - dt.timedelta(days=days)],
            )
        conn.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        conn.execute(
            "CREATE TABLE analytics.predictions (home_team VARCHAR, p_home DOUBLE, predicted_at TIMESTAMP WITH TIME ZONE)"
        )
        for days, team in ((500, "Arsenal"), (10, "Chelsea")):
            conn.execute(
                "INSERT INTO analytics.predictions VALUES (?, ?, ?)", [team, 0.5, NOW - dt.timedelta(days=days)]
            )


def _age_run(instance: dg.DagsterInstance, run_id: str, days: int) -> None:
    """Runs are stamped with their creation time by the storage; move one into the past in its SQLite file."""
    db = Path(instance.root_directory) / "history" / "runs.db"
    created = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).replace(tzinfo=None)
    with sqlite3.connect(db) as conn:
        assert conn.execute("UPDATE runs SET create_timestamp = ? WHERE run_id = ?", [created, run_id]).rowcount == 1


def _run_config(dry_run: bool = False) -> dict:
    return {
        "ops": {
            "prune_warehouse": {"config": {"predictions_days": 400, "rejected_rows_days": 90, "dry_run": dry_run}},
            "prune_run_history": {"config": {"run_history_days": 30, "dry_run": dry_run}},
        }
    }


def test_cleanup_deletes_only_what_is_past_retention(tmp_path: Path):
    store = Warehouse(kind="duckdb", path=tmp_path / "warehouse.duckdb")
    _seed_warehouse(store)
    resources = {"warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(store.path))}
    with dg.instance_for_test() as instance:
        old = tiny_job.execute_in_process(instance=instance).run_id
        recent = tiny_job.execute_in_process(instance=instance).run_id
        _age_run(instance, old, days=45)

        dry = cleanup_job.execute_in_process(
            instance=instance, run_config=_run_config(dry_run=True), resources=resources
        )
        assert dry.output_for_node("prune_warehouse") == {"analytics.predictions": 1, "raw.rejected_rows": 2}
        assert dry.output_for_node("prune_run_history") == 1
        assert instance.has_run(old)
        assert int(store.query_df("SELECT COUNT(*) AS n FROM raw.rejected_rows")["n"].iloc[0]) == 4

        result = cleanup_job.execute_in_process(instance=instance, run_config=_run_config(), resources=resources)
        assert result.output_for_node("prune_warehouse") == {"analytics.predictions": 1, "raw.rejected_rows": 2}
        assert result.output_for_node("prune_run_history") == 1
        assert not instance.has_run(old)
        assert instance.has_run(recent) and instance.has_run(dry.run_id) and instance.has_run(result.run_id)

    assert sorted(store.query_df("SELECT source_line FROM raw.rejected_rows")["source_line"]) == [3, 4]
    assert store.query_df("SELECT home_team FROM analytics.predictions")["home_team"].tolist() == ["Chelsea"]


def test_cleanup_without_optional_tables_and_with_a_bad_retention(tmp_path: Path):
    resources = {"warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(tmp_path / "empty.duckdb"))}
    with dg.instance_for_test() as instance:
        result = cleanup_job.execute_in_process(instance=instance, resources=resources)
        assert result.output_for_node("prune_warehouse") == {}
        bad = _run_config()
        bad["ops"]["prune_run_history"]["config"]["run_history_days"] = 0
        with pytest.raises(ValueError, match="at least 1 day"):
            cleanup_job.execute_in_process(instance=instance, run_config=bad, resources=resources)
