"""Pure parts of serving: fixture selection, state records, scoring, keys, rate limits (hand-worked values)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from football_platform.lib.predictions import (
    match_id,
    outcome_order,
    score_predictions,
    state_from_record,
    state_to_record,
    upcoming_fixtures,
)
from serving.auth import RateLimiter, hash_key


def test_match_id_is_url_safe_and_stable():
    assert match_id("E0", "2526", "Nott'm Forest", "Man United") == "E0-2526-nott-m-forest-man-united"


def test_outcome_order_maps_labels():
    assert outcome_order([0, 1, 2]) == [0, 1, 2]
    assert outcome_order(["A", "D", "H"]) == [2, 1, 0]
    with pytest.raises(ValueError, match="not H/D/A"):
        outcome_order(["win", "loss"])


def test_upcoming_fixtures_newest_snapshot_unplayed_and_as_of():
    fixtures = pd.DataFrame([
        # old snapshot: ignored even though unplayed
        {"div": "E0", "match_date": "2022-05-07", "home_team": "Leeds", "away_team": "Chelsea",
         "snapshot_date": "2022-05-06"},
        {"div": "E0", "match_date": "2026-01-31", "home_team": "Arsenal", "away_team": "Fulham",
         "snapshot_date": "2026-01-30"},
        {"div": "E0", "match_date": "2026-02-07", "home_team": "Leeds", "away_team": "Everton",
         "snapshot_date": "2026-01-30"},
        {"div": "E0", "match_date": "2026-02-01", "home_team": "Chelsea", "away_team": "Spurs",
         "snapshot_date": "2026-01-30"},
    ])
    played = pd.DataFrame([{"div": "E0", "season": "2526", "home_team": "Chelsea", "away_team": "Spurs"}])
    out = upcoming_fixtures(fixtures, played)
    assert list(out["match_id"]) == ["E0-2526-arsenal-fulham", "E0-2526-leeds-everton"]
    assert set(out["season"]) == {"2526"}  # January 2026 belongs to the season that started in July 2025
    later = upcoming_fixtures(fixtures, played, as_of="2026-02-02")
    assert list(later["home_team"]) == ["Leeds"]


def test_state_record_round_trip_keeps_nan_and_dates():
    state = {"team": "Arsenal", "div": "E0", "elo": 1712.5, "form5_points": float("nan"), "season_matches": 12,
             "recent_date_1": pd.Timestamp("2024-05-19"), "recent_date_2": pd.NaT, "season_matches_key": "E0:2324"}
    record = state_to_record(state)
    assert all(isinstance(v, str) for v in record.values())
    back = state_from_record({k.encode(): v.encode() for k, v in record.items()})
    assert back["elo"] == 1712.5 and math.isnan(back["form5_points"]) and back["season_matches"] == 12
    assert back["recent_date_1"] == pd.Timestamp("2024-05-19") and pd.isna(back["recent_date_2"])
    assert back["team"] == "Arsenal" and back["season_matches_key"] == "E0:2324"


def test_score_predictions_hand_worked_rps():
    key = {"div": "E0", "season": "2324"}
    preds = pd.DataFrame([
        {**key, "match_id": "a", "home_team": "A", "away_team": "B", "p_home": 0.5, "p_draw": 0.3, "p_away": 0.2},
        {**key, "match_id": "c", "home_team": "C", "away_team": "D", "p_home": 0.2, "p_draw": 0.3, "p_away": 0.5},
        {**key, "match_id": "e", "home_team": "E", "away_team": "F", "p_home": 0.4, "p_draw": 0.3, "p_away": 0.3},
    ])
    results = pd.DataFrame([
        {**key, "home_team": "A", "away_team": "B", "match_date": "2024-01-01", "fthg": 2, "ftag": 0},
        {**key, "home_team": "C", "away_team": "D", "match_date": "2024-01-02", "fthg": 1, "ftag": 1},
    ])  # E v F not played yet: not settled
    closing = pd.DataFrame([{**key, "home_team": "C", "away_team": "D", "odds_close_h": 2.0, "odds_close_d": 4.0,
                             "odds_close_a": 4.0}])
    out = score_predictions(preds, results, closing).set_index("match_id")
    assert list(out.index) == ["a", "c"]
    # home win: ((0.5-1)^2 + (0.8-1)^2) / 2
    assert out.loc["a", "rps_model"] == pytest.approx(0.145)
    assert np.isnan(out.loc["a", "rps_closing"])
    # draw: ((0.2-0)^2 + (0.5-1)^2) / 2; closing 1/odds = .5,.25,.25 -> ((.5)^2 + (.75-1)^2) / 2
    assert out.loc["c", "rps_model"] == pytest.approx(0.145)
    assert out.loc["c", "rps_closing"] == pytest.approx(0.15625)
    assert out.loc["c", "outcome"] == "D"



def test_score_predictions_with_nothing_settled_keeps_every_column():
    """Before any fixture is played the table is empty but has the columns the warehouse write selects."""
    preds = pd.DataFrame([{"div": "E0", "season": "2526", "match_id": "x", "home_team": "A", "away_team": "B",
                           "p_home": 0.5, "p_draw": 0.3, "p_away": 0.2, "model_version": "3"}])
    results = pd.DataFrame(columns=["div", "season", "home_team", "away_team", "match_date", "fthg", "ftag"])
    out = score_predictions(preds, results)
    assert out.empty
    assert {"match_id", "p_home", "model_version", "outcome", "rps_model", "rps_closing", "close_p_home"} <= set(out)
    assert not {"fthg", "ftag"} & set(out)

def test_hash_key_is_sha256():
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_token_bucket_allows_burst_then_refuses():
    limiter = RateLimiter(rate=0.5, burst=2)
    assert [limiter.allow("k")[0] for _ in range(3)] == [True, True, False]
    assert limiter.allow("other")[0]  # buckets are per key
    assert RateLimiter(rate=0).allow("k") == (True, 0.0)
