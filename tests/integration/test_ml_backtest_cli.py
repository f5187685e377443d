"""``football-platform backtest`` in a subprocess on the real E0 files (test seasons 2022/23-2023/24)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
TRAIN_FROM = "1718"  # a few seasons of history keep the run small; the default is the whole history


def _run(tmp_path: Path, source: Path, out: Path, model: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOOTBALL_STATE_DIR": str(tmp_path / "state"), "FOOTBALL_ENV": "local"}
    for key in ("FOOTBALL_WAREHOUSE", "DAGSTER_HOME", "MLFLOW_TRACKING_URI", "DATABASE_URL"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "football_platform.cli", "backtest", "--source", str(source), "--leagues", "E0",
           "--test-seasons", "2223:2324", "--train-from", TRAIN_FROM, "--out", str(out)]
    if model:
        cmd += ["--model", model]
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=1500)


def _source_rows(path: Path) -> set[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return {(r["HomeTeam"].strip(), r["AwayTeam"].strip()) for r in csv.DictReader(handle) if r.get("Div")}


def _check_output(out: Path, data: Path) -> pd.DataFrame:
    frame = pd.read_csv(out, dtype={"season": str})
    assert len(frame) == 760  # 2 x 380 EPL matches, one row each
    assert set(frame["season"]) == {"2223", "2324"}
    assert (frame.groupby("season").size() == 380).all()
    for col in ("div", "season", "date", "home_team", "away_team", "p_home", "p_draw", "p_away", "model"):
        assert col in frame.columns
    sums = frame[["p_home", "p_draw", "p_away"]].sum(axis=1)
    assert ((sums - 1).abs() < 1e-5).all()
    assert frame["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert frame["date"].min() >= "2022-08-01" and frame["date"].max() <= "2024-05-31"
    expected = _source_rows(data / "2223" / "E0.csv") | _source_rows(data / "2324" / "E0.csv")
    assert set(zip(frame["home_team"], frame["away_team"], strict=True)) == expected  # site spelling kept
    assert "Nott'm Forest" in set(frame["home_team"])
    return frame


def test_backtest_cli_default_model(tmp_path: Path, football_data_dir: Path) -> None:
    out = tmp_path / "bt.csv"
    result = _run(tmp_path, football_data_dir, out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(out)
    summary = result.stderr.strip().splitlines()[-1]
    assert "model=stack_fundamentals" in summary and "matches=760" in summary and "rps_closing=" in summary
    frame = _check_output(out, football_data_dir)
    assert set(frame["model"]) == {"stack_fundamentals"}
    # closing odds exist for every EPL match of these seasons
    assert frame[["p_close_home", "p_close_draw", "p_close_away"]].notna().all(axis=None)


@pytest.fixture
def no_closing_source(tmp_path: Path, football_data_dir: Path) -> Path:
    """Copies of the E0 files; the test seasons lose every closing-odds column (``...C[HDA]`` 1X2 columns)."""
    root = tmp_path / "src"
    for season in [f"{y % 100:02d}{(y + 1) % 100:02d}" for y in range(2017, 2024)]:
        src = football_data_dir / season / "E0.csv"
        dst = root / season / "E0.csv"
        dst.parent.mkdir(parents=True)
        if season in ("2223", "2324"):
            frame = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            closing = [c for c in frame.columns if c.startswith(("PSC", "AvgC", "MaxC", "B365C", "BWC", "IWC", "WHC",
                                                                  "VCC", "1XBC", "BFEC", "BFC", "PC"))]
            assert "PSCH" in closing and "AvgCH" in closing
            frame.drop(columns=closing).to_csv(dst, index=False)
        else:
            dst.write_bytes(src.read_bytes())
    return root


def test_backtest_cli_without_closing_columns(tmp_path: Path, no_closing_source: Path, football_data_dir: Path) -> None:
    out = tmp_path / "bt_noclose.csv"
    result = _run(tmp_path, no_closing_source, out, model="avg_elo_pi_dc")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "with_closing=0" in result.stderr.strip().splitlines()[-1]
    frame = _check_output(out, football_data_dir)
    assert set(frame["model"]) == {"avg_elo_pi_dc"}
    assert frame[["p_close_home", "p_close_draw", "p_close_away"]].isna().all(axis=None)
