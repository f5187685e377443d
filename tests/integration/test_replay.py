"""``football-platform replay`` end to end on real E0 files: the platform run week after week from the off-season,
through the 1 July season rollover, on what the site had published each day (dbt, Feast, MLflow, Dagster)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from football_platform.lib.parsing import parse_results_file
from tests.conftest import FOOTBALL_DATA, REPO_ROOT

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "football_platform.cli"]


def _replay(args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOOTBALL_ENV": "local", "FOOTBALL_STATE_DIR": str(workdir / "unused_state")}
    for name in ("DAGSTER_HOME", "FOOTBALL_WAREHOUSE", "MLFLOW_TRACKING_URI", "FOOTBALL_AS_OF", "REDIS_URL"):
        env.pop(name, None)
    return subprocess.run([*CLI, "replay", "--source", str(FOOTBALL_DATA), "--workdir", str(workdir), *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1500)


def _played(first: str, end: str) -> int:
    """E0 2023/24 matches dated in [first, end), from the complete file."""
    parsed = parse_results_file((FOOTBALL_DATA / "2324" / "E0.csv").read_bytes(), "2324/E0.csv", "2324", "E0")
    dates = pd.to_datetime(parsed.matches["match_date"])
    return int(((dates >= pd.Timestamp(first)) & (dates < pd.Timestamp(end))).sum())


def test_replay_across_the_season_rollover(tmp_path: Path):
    # Four as-of dates three weeks apart keep this under a few minutes (each date runs dbt, Feast and Dagster for
    # real): the end of 2022/23's off-season, the 1 July rollover, the new season's first fixtures list before its
    # file exists, and a date by which those matches are played. The weekly 2022/23 replay is a measured command
    # (README), not a test.
    workdir = tmp_path / "replay"
    done = _replay(["--leagues", "E0", "--seasons", "2122:2324", "--from", "2023-06-30", "--to", "2023-09-01",
                    "--every", "21d", "--model-every", "365d"], workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    # One line per as-of date on a non-terminal, nothing else (dbt's and Dagster's output go to replay.log).
    lines = done.stderr.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["2023-06-30", "2023-07-21", "2023-08-11", "2023-09-01"], lines
    assert summary["failed_runs"] == 0 and summary["as_of_dates"] == 4 and summary["model_updates"] == 1
    days = {d["as_of"]: d for d in json.loads((workdir / "days.json").read_text())}
    # The season rolls over on 1 July with no manual step: 2022/23 before, 2023/24 after; no 2023/24 file until a
    # match of it has been played (the site's 404 is "no data").
    assert [days[d]["season"] for d in sorted(days)] == ["2223", "2324", "2324", "2324"]
    assert [days[d]["files"] for d in sorted(days)] == [2, 2, 2, 3]
    assert days["2023-09-01"]["new_results"] == _played("2023-08-11", "2023-09-01")
    # Off-season days publish an empty batch; then every fixture of every synthetic snapshot is predicted, the new
    # season's first list (promoted Luton, never seen in these files, included) before its file exists.
    listed = [0, 0, _played("2023-08-11", "2023-09-01"), _played("2023-09-01", "2023-09-22")]
    assert [days[d]["fixtures_listed"] for d in sorted(days)] == listed and listed[2] > 0 and listed[3] > 0
    for day in days.values():
        assert day["predicted"] == day["fixtures_listed"], day
    published = pd.read_csv(workdir / "published_predictions.csv", parse_dates=["features_timestamp", "as_of"])
    assert len(published) == summary["predictions_published"] == sum(listed)
    assert "Luton" in set(published["home_team"]) | set(published["away_team"])
    # Fresh features: stamped the day after the last result published before each as-of date.
    for as_of, batch in published.groupby(published["as_of"].dt.date.astype(str)):
        last = dt.date.fromisoformat(days[as_of]["last_result"])
        assert set(batch["features_timestamp"].dt.date) == {last + dt.timedelta(days=1)}, as_of
    # Scored on what was published before kick-off: the matches of the first three rounds, with the closing line.
    scored = summary["scored"]["overall"]
    assert scored["n"] == scored["n_closing"] == listed[2] and 0.1 < scored["rps"] < 0.3
    assert set(summary["scored"]["per_month"]) == {"2023-08"}
    assert (workdir / "rps_gap_to_closing.png").read_bytes()[:4] == b"\x89PNG"
    # One path: the backtest built from the same feature, state and model code predicts the same probabilities for
    # the same matches, model and as-of dates.
    comparison = summary["backtest_comparison"]
    assert comparison["n"] == listed[2]
    assert abs(comparison["rps_difference"]) < 0.001
    assert comparison["max_abs_probability_difference"] < 1e-3


def test_bad_options_are_one_line(tmp_path: Path):
    done = _replay(["--from", "2023-07-01", "--to", "2023-06-01"], tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error:") and "before" in done.stderr
    done = _replay(["--from", "2023-07-01", "--to", "2023-07-02", "--every", "weekly"], tmp_path)
    assert done.returncode != 0 and "--every" in done.stderr and "Traceback" not in done.stderr
