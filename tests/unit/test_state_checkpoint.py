"""The incremental team states (lib/state_checkpoint.py) equal the full recompute exactly, and fall back to it."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.data import load_matches
from football_platform.lib import state_checkpoint as sc
from football_platform.lib.features import FeatureParams, team_state_after
from football_platform.lib.ratings.elo import EloParams

FIXTURE_COLUMNS = ["div", "season", "match_date", "home_team", "away_team"]


@pytest.fixture(scope="module")
def two_leagues(football_data_dir: Path) -> pd.DataFrame:
    """E0 and E1, three seasons: promotions between the two leagues, season starts, shots, real calendars."""
    return load_matches(("E0", "E1"), ("2021", "2122", "2223"), root=football_data_dir)


def _day(matches: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the platform sees on ``as_of``: the results before it, the fixtures of the next days."""
    played = matches[matches["match_date"] < as_of].reset_index(drop=True)
    soon = matches[(matches["match_date"] >= as_of) & (matches["match_date"] < as_of + pd.Timedelta(days=horizon_days))]
    return played, soon[FIXTURE_COLUMNS].reset_index(drop=True)


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_day_by_day_equals_full_recompute_across_a_season_start(two_leagues: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "engine.pkl"
    # From the end of 2021/22 through the summer (fixtures of a season whose teams changed) into 2022/23.
    days = [pd.Timestamp(d) for d in ("2022-05-01", "2022-05-08", "2022-05-30", "2022-07-20", "2022-07-29",
                                      "2022-08-01", "2022-08-02", "2022-08-09", "2022-08-10", "2022-10-01")]
    modes = []
    for as_of in days:
        played, upcoming = _day(two_leagues, as_of)
        upcoming = upcoming if len(upcoming) else None
        got, info = sc.team_state_incremental(played, upcoming, path)
        _assert_same(got, team_state_after(played, upcoming))
        modes.append(info.mode)
    assert modes[0] == "full" and modes.count("incremental") >= 7, modes


def test_resumed_engine_processes_only_the_new_days(two_leagues: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "engine.pkl"
    played, upcoming = _day(two_leagues, pd.Timestamp("2023-03-01"))
    sc.team_state_incremental(played, upcoming, path)
    later, upcoming = _day(two_leagues, pd.Timestamp("2023-03-08"))
    got, info = sc.team_state_incremental(later, upcoming, path)
    assert info.mode == "incremental" and info.new_matches == len(later) - len(played) > 0
    assert info.checkpoint_date == str(played["match_date"].max().date())
    _assert_same(got, team_state_after(later, upcoming))
    # nothing new: the checkpoint is used as it is
    again, info = sc.team_state_incremental(later, upcoming, path)
    assert (info.mode, info.new_matches) == ("incremental", 0)
    _assert_same(again, team_state_after(later, upcoming))


def test_a_corrected_older_result_forces_a_full_recompute(two_leagues: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "engine.pkl"
    played, upcoming = _day(two_leagues, pd.Timestamp("2023-03-01"))
    sc.team_state_incremental(played, upcoming, path)
    later, upcoming = _day(two_leagues, pd.Timestamp("2023-03-08"))
    corrected = later.copy()
    k = corrected.index[corrected["season"] == "2122"][100]
    corrected.loc[k, "fthg"] = corrected.loc[k, "fthg"] + 1
    got, info = sc.team_state_incremental(corrected, upcoming, path)
    assert info.mode == "full" and "history up to" in info.reason
    _assert_same(got, team_state_after(corrected, upcoming))
    # a result removed, or a late row dated before the checkpoint, is a changed history too
    _, info = sc.team_state_incremental(later.drop(index=later.index[5]), upcoming, path)
    assert info.mode == "full"


def test_changed_params_code_or_team_lists_are_not_resumed(two_leagues: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "engine.pkl"
    played, upcoming = _day(two_leagues, pd.Timestamp("2023-03-01"))
    sc.team_state_incremental(played, upcoming, path)
    params = FeatureParams(elo=EloParams(k=25.0))
    got, info = sc.team_state_incremental(played, upcoming, path, params)
    assert info.mode == "full" and "parameters" in info.reason
    _assert_same(got, team_state_after(played, upcoming, params))
    # the checkpoint is now the one of ``params``; a different engine code is refused the same way
    checkpoint = sc.load_checkpoint(path)
    assert checkpoint is not None and checkpoint.fingerprint == sc.engine_fingerprint(params)
    checkpoint.fingerprint = "older code"
    sc.save_checkpoint(path, checkpoint)
    _, info = sc.team_state_incremental(played, upcoming, path, params)
    assert info.mode == "full"
    # a team listed in a season already under way that the checkpoint did not know
    stranger = pd.DataFrame([{"div": "E0", "season": "2223", "match_date": pd.Timestamp("2023-03-04"),
                              "home_team": "Nowhere Town", "away_team": "Arsenal"}])
    extra = pd.concat([upcoming, stranger], ignore_index=True)
    got, info = sc.team_state_incremental(played, extra, path, params)
    assert info.mode == "full" and "team lists" in info.reason
    _assert_same(got, team_state_after(played, extra, params))


def test_a_broken_checkpoint_is_recomputed(two_leagues: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "engine.pkl"
    played, upcoming = _day(two_leagues, pd.Timestamp("2022-11-01"))
    path.write_bytes(b"not a pickle")
    got, info = sc.team_state_incremental(played, upcoming, path)
    assert info.mode == "full"
    _assert_same(got, team_state_after(played, upcoming))
    path.write_bytes(pickle.dumps({"something": "else"}))
    assert sc.load_checkpoint(path) is None
    assert sc.load_checkpoint(tmp_path / "missing.pkl") is None
