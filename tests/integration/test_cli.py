"""The console script, end to end in a subprocess, as other tools call it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.conftest import REPO_ROOT, season_files

CLI = [sys.executable, "-m", "football_platform.cli"]


def _run(args: list[str], state: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOOTBALL_ENV": "local", "FOOTBALL_STATE_DIR": str(state)}
    env.pop("DAGSTER_HOME", None)
    env.pop("FOOTBALL_WAREHOUSE", None)
    return subprocess.run([*CLI, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_ingest_prints_the_json_summary_and_is_idempotent(tmp_path: Path, football_data_dir: Path):
    args = ["ingest", "--source", str(football_data_dir), "--leagues", "E0,SP1", "--seasons", "2122:2324"]
    expected_rows = sum(
        int(r["rows"]) for r in season_files() if r["div"] in ("E0", "SP1") and r["season"] in ("2122", "2223", "2324")
    )
    first = _run(args, tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary == {
        "files": 6, "rows": expected_rows, "inserted": expected_rows, "updated": 0, "unchanged": 0, "rejected": 0
    }
    second = _run(args, tmp_path)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, expected_rows)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM raw.matches").fetchone()[0] == expected_rows
    # The CLI's runs are Dagster runs in this profile's instance, visible in the UI.
    assert (tmp_path / "dagster_home").is_dir()


def test_a_bad_file_exits_non_zero_with_one_line_and_keeps_the_rest(tmp_path: Path, football_data_dir: Path):
    source = tmp_path / "source"
    for season in ("2223", "2324"):
        (source / season).mkdir(parents=True)
        shutil.copy(football_data_dir / season / "E0.csv", source / season / "E0.csv")
    state = tmp_path / "state"
    assert _run(["ingest", "--source", str(source), "--leagues", "E0", "--seasons", "2223:2324"], state).returncode == 0

    (source / "2324" / "E0.csv").write_bytes(b"<!DOCTYPE html><html><body>Not Found</body></html>")
    result = _run(["ingest", "--source", str(source), "--leagues", "E0", "--seasons", "2223:2324"], state)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "2324/E0.csv" in errors[0]
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["rejected"] == 1 and summary["files"] == 1
    with duckdb.connect(str(state / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM raw.matches WHERE season = '2324'").fetchone()[0] == 380


def test_unknown_season_is_a_one_line_error(tmp_path: Path, football_data_dir: Path):
    result = _run(["ingest", "--source", str(football_data_dir), "--seasons", "8990"], tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "8990" in result.stderr
