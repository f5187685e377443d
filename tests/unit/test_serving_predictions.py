"""Pure parts of serving: fixture selection, the one-fixture feature path, scoring, keys, rate limits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from football_platform.lib import feature_rows as frows
from football_platform.lib.features import (
    FUNDAMENTAL_FEATURES,
    MARKET_AWARE_FEATURES,
    FeatureParams,
    _finish,
    _pair_row,
    features_from_states,
    team_state_after,
)
from football_platform.lib.predictions import (
    match_id,
    model_input,
    newest_snapshot,
    outcome_order,
    score_predictions,
    snapshot_of,
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


@pytest.fixture(scope="module")
def states() -> pd.DataFrame:
    """States after a small hand-made league (three teams, six matches, one with missing shots)."""
    rows = [("2023-08-12", "A", "B", 2, 0), ("2023-08-13", "C", "A", 1, 1), ("2023-08-19", "B", "C", 0, 3),
            ("2023-08-26", "B", "A", 1, 2), ("2023-09-02", "A", "C", 0, 0), ("2023-09-03", "C", "B", 2, 1)]
    matches = pd.DataFrame(rows, columns=["match_date", "home_team", "away_team", "fthg", "ftag"]).assign(
        div="E0", season="2324", home_shots=[10, 8, np.nan, 12, 9, 11], away_shots=[5, 9, 7, 6, 9, 4])
    return team_state_after(matches)


def test_one_fixture_path_equals_the_frame_path(states):
    """features_from_states (numpy, per request) gives bit for bit what the training frame path gives."""
    params = FeatureParams()
    odds = {"odds_pre_h": 2.1, "odds_pre_d": 3.4, "odds_pre_a": 3.6, "odds_pre_over25": 1.9, "odds_pre_under25": 1.95}
    for home, away, kickoff in (("A", "B", "2023-09-09"), ("C", "A", "2023-09-04"), ("B", "C", "2024-08-17")):
        one = features_from_states(states.loc[home].to_dict(), states.loc[away].to_dict(), kickoff, odds=odds)
        row = _pair_row(states.loc[home].to_dict(), states.loc[away].to_dict(), pd.Timestamp(kickoff), "E0", "2324",
                        params)
        frame = _finish(pd.DataFrame([{**row, "div": "E0", **odds}]), params).iloc[0]
        assert list(one) == MARKET_AWARE_FEATURES
        for col in MARKET_AWARE_FEATURES[1:]:
            assert one[col] == frame[col] or (math.isnan(one[col]) and math.isnan(frame[col])), col
    assert 0 < one["match_market_p_home"] < 1 and 0 < one["match_dc_p_over25"] < 1
    # Without prices (the usual API request) every market column is NaN, as the frame path makes it.
    bare = features_from_states(states.loc["A"].to_dict(), states.loc["B"].to_dict(), "2023-09-09")
    row = _pair_row(states.loc["A"].to_dict(), states.loc["B"].to_dict(), pd.Timestamp("2023-09-09"), "E0", "2324",
                    params)
    frame = _finish(pd.DataFrame([{**row, "div": "E0"}]), params).iloc[0]
    for col in MARKET_AWARE_FEATURES[1:]:
        assert bare[col] == frame[col] or (math.isnan(bare[col]) and math.isnan(frame[col])), col
    assert all(math.isnan(bare[c]) for c in MARKET_AWARE_FEATURES if c.startswith("match_market_"))


def test_model_input_orders_the_row_like_the_model(states):
    home, away = states.loc["A"].to_dict(), states.loc["C"].to_dict()
    names = list(reversed(FUNDAMENTAL_FEATURES))
    row, over = model_input(home, away, "2023-09-09", names)
    feats = features_from_states(home, away, "2023-09-09")
    assert row[names.index("div")] == "E0" and len(row) == len(names)
    assert row[names.index("home_elo")] == feats["home_elo"] and row[names.index("diff_elo")] == feats["diff_elo"]
    assert over == feats["match_dc_p_over25"]
    # A state read back from the online store's text form gives the same row.
    rows = frows.state_rows(states, pd.Timestamp("2023-09-04", tz="UTC"))
    online = frows.states_from_rows(rows)
    again, over_again = model_input(online["A"], online["C"], "2023-09-09", names)
    assert over_again == over and again[names.index("div")] == "E0"
    numeric = [i for i, n in enumerate(names) if n != "div"]
    assert np.array_equal(np.array(again)[numeric].astype(float), np.array(row)[numeric].astype(float), equal_nan=True)


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
    # The in-process bucket (the fallback when the shared store is down): rate and burst are per call now.
    limiter = RateLimiter()
    assert [limiter.take("k", 0.5, 2)[0] for _ in range(3)] == [True, True, False]
    assert limiter.take("other", 0.5, 2)[0]  # buckets are per key


def test_an_empty_newer_snapshot_means_nothing_is_upcoming():
    fixtures = pd.DataFrame({"div": ["E0", "E0"], "home_team": ["A", "B"], "away_team": ["B", "A"],
                             "match_date": ["2024-05-19", "2024-08-17"],
                             "snapshot_date": [pd.Timestamp("2024-05-10"), pd.Timestamp("2024-05-10")]})
    assert len(newest_snapshot(fixtures)) == 2
    assert len(newest_snapshot(fixtures, latest="2024-05-10")) == 2
    assert newest_snapshot(fixtures, latest="2024-07-01").empty  # the header-only summer list is the newest
    assert snapshot_of("fixtures/2024-07-01/fixtures.csv") == "2024-07-01"
    assert snapshot_of("2324/E0.csv") is None and snapshot_of(None) is None
