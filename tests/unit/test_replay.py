"""The replay's pure parts on the real files: what the site had published on a date, and how it is scored."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from football_platform.lib import replay as rp
from football_platform.lib.parsing import parse_fixtures_file, parse_results_file
from football_platform.lib.seasons import partition_seasons
from tests.conftest import FOOTBALL_DATA


def test_every_and_dates():
    assert rp.parse_every("1d") == 1 and rp.parse_every("7d") == 7 and rp.parse_every("2w") == 14
    with pytest.raises(ValueError, match="--every"):
        rp.parse_every("weekly")
    with pytest.raises(ValueError, match="--every"):
        rp.parse_every("0d")
    dates = rp.as_of_dates(dt.date(2022, 7, 1), dt.date(2022, 7, 29), 7)
    assert dates == [dt.date(2022, 7, d) for d in (1, 8, 15, 22, 29)]
    assert rp.model_update_dates(dates, 14) == [dt.date(2022, 7, 1), dt.date(2022, 7, 15), dt.date(2022, 7, 29)]
    with pytest.raises(ValueError, match="before"):
        rp.as_of_dates(dt.date(2022, 7, 2), dt.date(2022, 7, 1), 1)


def test_site_dates_are_day_first_in_both_formats():
    assert rp.read_site_date("05/08/2022") == dt.date(2022, 8, 5)
    assert rp.read_site_date("14/08/93") == dt.date(1993, 8, 14)
    assert rp.read_site_date("01/02/03") == dt.date(2003, 2, 1)
    assert rp.read_site_date("31/02/2022") is None and rp.read_site_date("") is None


def test_closing_and_result_columns_never_reach_a_fixtures_list():
    header = ["Div", "Date", "Time", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR", "HS", "Referee", "B365H", "PSH",
              "PSCH", "AvgCH", "B365C>2.5", "Avg>2.5", "AHh", "AHCh", "PCAHH", "MaxH"]
    kept = rp.fixture_columns(header)
    assert kept == ["Div", "Date", "Time", "HomeTeam", "AwayTeam", "Referee", "B365H", "PSH", "Avg>2.5", "AHh", "MaxH"]


def test_published_folder_grows_and_lists_the_next_days(tmp_path: Path):
    history = rp.SiteHistory(FOOTBALL_DATA, tmp_path / "site", ["E0"], ["2122", "2223"], horizon_days=7)
    # Off-season: last season's file complete, this season's not published, an empty fixtures list.
    summer = history.publish(dt.date(2022, 7, 1))
    assert summer.files == 1 and summer.new_results == 380 and summer.fixtures.empty
    assert not (tmp_path / "site" / "2223" / "E0.csv").exists()
    snapshot = (tmp_path / "site" / "fixtures" / "2022-07-01" / "fixtures.csv").read_bytes()
    assert parse_fixtures_file(snapshot, "fixtures.csv", divisions=["E0"]).fixtures.empty
    assert summer.last_result == dt.date(2022, 5, 22)

    # The opening weekend (5-7 August 2022) is listed with pre-match odds and no closing price.
    opening = history.publish(dt.date(2022, 8, 5))
    assert opening.new_results == 0 and len(opening.fixtures) == 10
    parsed = parse_fixtures_file((tmp_path / "site" / "fixtures" / "2022-08-05" / "fixtures.csv").read_bytes(),
                                 "fixtures.csv", divisions=["E0"])
    assert len(parsed.fixtures) == 10
    assert set(parsed.odds["period"]) == {"pre"}
    assert {"Crystal Palace", "Arsenal"} <= set(parsed.fixtures["home_team"]) | set(parsed.fixtures["away_team"])

    # A week later: exactly the matches played before the date, the rest still to come.
    week = history.publish(dt.date(2022, 8, 12))
    cut = parse_results_file((tmp_path / "site" / "2223" / "E0.csv").read_bytes(), "2223/E0.csv", "2223", "E0")
    assert week.new_results == len(cut.matches) == 10
    assert pd.to_datetime(cut.matches["match_date"]).max() < pd.Timestamp("2022-08-12")
    full = parse_results_file((FOOTBALL_DATA / "2223" / "E0.csv").read_bytes(), "2223/E0.csv", "2223", "E0")
    played = full.matches[pd.to_datetime(full.matches["match_date"]) < pd.Timestamp("2022-08-12")]
    assert set(cut.matches["home_team"]) == set(played["home_team"])
    assert (week.fixtures["match_date"] >= dt.date(2022, 8, 12)).all()
    assert (week.fixtures["match_date"] < dt.date(2022, 8, 19)).all()


def test_a_real_snapshot_of_the_day_wins(tmp_path: Path):
    history = rp.SiteHistory(FOOTBALL_DATA, tmp_path / "site", ["E0"], ["2122"], horizon_days=7)
    day = history.publish(dt.date(2022, 5, 6))
    assert day.real_snapshot
    copied = tmp_path / "site" / "fixtures" / "2022-05-06" / "fixtures.csv"
    assert copied.read_bytes() == (FOOTBALL_DATA / "fixtures" / "2022-05-06" / "fixtures.csv").read_bytes()


def test_no_file_for_the_leagues_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ValueError, match="no season file of XX"):
        rp.SiteHistory(FOOTBALL_DATA, tmp_path / "site", ["XX"], ["2122"])


def test_partitions_already_hold_next_season():
    assert partition_seasons(dt.date(2027, 6, 30))[-1] == "2728"  # loaded before 1 July: 2027/28 is ready
    assert partition_seasons(dt.date(2027, 7, 1))[-1] == "2829"
    assert partition_seasons(dt.date(2027, 6, 30))[0] == "9394"


def _published() -> pd.DataFrame:
    rows = [
        # as_of, generated, match, date, p_home: two publications of the Arsenal match, one published after kick-off
        ("2022-08-01", 1, "Arsenal", "2022-08-06", 0.40),
        ("2022-08-05", 2, "Arsenal", "2022-08-06", 0.50),
        ("2022-08-08", 3, "Arsenal", "2022-08-06", 0.90),
        ("2022-08-05", 2, "Fulham", "2022-08-06", 0.30),
    ]
    return pd.DataFrame([{"as_of": a, "generated_at": g, "div": "E0", "season": "2223", "home_team": h,
                          "away_team": "X", "match_date": d, "p_home": p, "p_draw": 0.25, "p_away": 0.75 - p}
                         for a, g, h, d, p in rows])


def test_the_latest_prediction_published_before_kickoff_is_scored():
    latest = rp.published_before_kickoff(_published())
    assert len(latest) == 2
    assert latest.set_index("home_team").loc["Arsenal", "p_home"] == 0.50


def test_score_per_league_and_month_with_the_closing_line():
    latest = rp.published_before_kickoff(_published())
    results = pd.DataFrame({"div": ["E0", "E0"], "season": ["2223", "2223"], "home_team": ["Arsenal", "Fulham"],
                            "away_team": ["X", "X"], "fthg": [2, 0], "ftag": [0, 0],
                            "close_p_home": [0.6, np.nan], "close_p_draw": [0.25, np.nan],
                            "close_p_away": [0.15, np.nan]})
    settled = rp.settle(latest, results)
    scored = rp.score(settled)
    # RPS of (0.5, 0.25, 0.25) on a home win: ((0.5)^2 + (0.25)^2) / 2; of (0.3, 0.25, 0.45) on a draw: (0.09 + 0.2025)/2
    arsenal = (0.5 ** 2 + 0.25 ** 2) / 2
    fulham = (0.3 ** 2 + 0.45 ** 2) / 2
    assert scored["overall"]["n"] == 2
    assert scored["overall"]["rps"] == pytest.approx((arsenal + fulham) / 2, abs=1e-6)
    assert scored["overall"]["n_closing"] == 1
    closing = (0.4 ** 2 + 0.15 ** 2) / 2
    assert scored["overall"]["rps_gap_to_closing"] == pytest.approx(arsenal - closing, abs=1e-6)
    assert list(scored["per_month"]) == ["2022-08"] and list(scored["per_league"]) == ["E0"]


def test_compare_paths_pairs_the_same_match_and_date():
    latest = rp.published_before_kickoff(_published())
    results = pd.DataFrame({"div": ["E0", "E0"], "season": ["2223", "2223"], "home_team": ["Arsenal", "Fulham"],
                            "away_team": ["X", "X"], "fthg": [2, 0], "ftag": [0, 0]})
    settled = rp.settle(latest, results)
    other = settled[["as_of", "div", "season", "home_team", "away_team", "p_home", "p_draw", "p_away"]].copy()
    same = rp.compare_paths(settled, other)
    assert same["n"] == 2 and same["rps_difference"] == 0 and same["max_abs_probability_difference"] == 0
    other.loc[0, ["p_home", "p_away"]] = [0.45, 0.30]
    moved = rp.compare_paths(settled, other)
    assert moved["max_abs_probability_difference"] == pytest.approx(0.05)
    assert moved["rps_difference"] != 0


def test_gap_chart_is_a_png(tmp_path: Path):
    latest = rp.published_before_kickoff(_published())
    results = pd.DataFrame({"div": ["E0", "E0"], "season": ["2223", "2223"], "home_team": ["Arsenal", "Fulham"],
                            "away_team": ["X", "X"], "fthg": [2, 0], "ftag": [0, 0],
                            "close_p_home": [0.6, 0.3], "close_p_draw": [0.25, 0.3], "close_p_away": [0.15, 0.4]})
    path = rp.gap_chart(rp.settle(latest, results), tmp_path / "gap.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fixtures_csv_is_header_only_without_rows():
    text = rp.fixtures_csv([]).decode()
    assert list(csv.reader(io.StringIO(text))) == [rp.FIXTURE_LEAD_COLUMNS]


def test_a_new_process_counts_only_the_rows_added_since_the_folder_was_published(tmp_path: Path):
    rp.SiteHistory(FOOTBALL_DATA, tmp_path / "site", ["E0"], ["2223"]).publish(dt.date(2022, 8, 12))
    later = rp.SiteHistory(FOOTBALL_DATA, tmp_path / "site", ["E0"], ["2223"]).publish(dt.date(2022, 8, 19))
    assert later.new_results == 10 and later.files == 1
