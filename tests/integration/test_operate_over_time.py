"""The platform over time, end to end through the console script on real E0 files (dbt, Feast, MLflow, Dagster):
a fresh deployment in the off-season, then the first as-of run of the new season on the same state."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from football_platform.lib.replay import SiteHistory
from tests.conftest import FOOTBALL_DATA, REPO_ROOT

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "football_platform.cli"]


def _run(args: list[str], state: Path, as_of: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOOTBALL_ENV": "local", "FOOTBALL_STATE_DIR": str(state)}
    for name in ("DAGSTER_HOME", "FOOTBALL_WAREHOUSE", "MLFLOW_TRACKING_URI", "FOOTBALL_AS_OF", "REDIS_URL"):
        env.pop(name, None)
    if as_of:
        env["FOOTBALL_AS_OF"] = as_of
    return subprocess.run([*CLI, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)


def _notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("skipped:", "warning: batch_predictions", "error:"))]


def test_off_season_first_run_then_the_new_season(tmp_path: Path):
    site = tmp_path / "site"
    state = tmp_path / "state"
    history = SiteHistory(FOOTBALL_DATA, site, ["E0"], ["2122", "2223", "2324"], horizon_days=7)
    summer = history.publish(dt.date(2023, 7, 1))  # 2021/22 and 2022/23 complete; no 2023/24 file; empty fixtures
    assert summer.files == 2 and summer.fixtures.empty and not (site / "2324").exists()
    args = ["run", "--source", str(site), "--leagues", "E0", "--seasons", "2122:2324"]

    # 1. A fresh deployment in the off-season with two seasons of one league: a successful run, 0 predictions,
    #    and the reason on one line. The not yet published 2023/24 file is "no data", not an error.
    first = _run(args, state, as_of="2023-07-01")
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["files"] == 2 and summary["rejected"] == 0
    assert summary["predictions"] == 0
    notes = _notes(first.stderr)
    assert notes == ["warning: batch_predictions: no upcoming fixture in the newest fixtures list (off-season or "
                     "empty snapshot) on or after 2023-07-01"], first.stderr[-3000:]
    assert "Traceback" not in first.stderr

    # 2. The season starts: the 2023/24 file appears, a new fixtures snapshot lists the opening week. An as-of run
    #    on the same state publishes a prediction for every fixture, or says in one line why it cannot.
    opening = history.publish(dt.date(2023, 8, 18))
    assert opening.new_results == 10 and len(opening.fixtures) > 0  # the opening round played, the next listed
    second = _run(args, state, as_of="2023-08-18")
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert summary["inserted"] == 10 and summary["updated"] == 0  # the ten opening matches, nothing else
    notes = _notes(second.stderr)
    with duckdb.connect(str(state / "warehouse.duckdb"), read_only=True) as conn:
        batch = conn.execute(
            "SELECT match_date, features_timestamp FROM analytics.predictions "
            "WHERE generated_at = (SELECT MAX(generated_at) FROM analytics.predictions)").fetchall()
    if summary["predictions"] is None:  # no challenger qualified: the documented skip, one clear line
        assert len(notes) == 1 and notes[0].startswith("skipped: batch_predictions skipped: no 'production' model")
    else:
        assert notes == [] and summary["predictions"] == len(opening.fixtures) == len(batch)
        assert all(d >= dt.date(2023, 8, 18) for d, _ in batch)
        # Fresh features: stamped the day after the last result published before the as-of date (14 August).
        assert {ts.date() for _, ts in batch} == {opening.last_result + dt.timedelta(days=1)}
