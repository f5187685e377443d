"""Feature construction (no leakage, serving parity) and the match models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from football_platform.lib.features import (
    FUNDAMENTAL_FEATURES,
    MARKET_AWARE_FEATURES,
    build_match_features,
    features_from_states,
    team_state_after,
)
from football_platform.lib.metrics import outcome_index, rps
from football_platform.lib.models import (
    BaseRateModel,
    CatBoostModel,
    LinearPool,
    MarketModel,
    OrderedLogitModel,
    TemperatureCalibrator,
    make_model,
    ordered_logit_probs,
)
from tests.unit.test_ratings import synthetic_matches

DC_COLUMNS = [c for c in MARKET_AWARE_FEATURES if "dc_" in c]


@pytest.fixture(scope="module")
def league() -> pd.DataFrame:
    return synthetic_matches({"1617": list("ABCDEFGHKLMN"), "1718": list("ABCDEFGIKLMN"),
                              "1819": list("ABCDEFIJKLMN")}, seed=21)


@pytest.fixture(scope="module")
def league_features(league: pd.DataFrame) -> pd.DataFrame:
    return build_match_features(league)


# ------------------------------------------------------------------------------------------- features


def test_features_have_key_and_no_results(league: pd.DataFrame, league_features: pd.DataFrame) -> None:
    assert list(league_features.columns[:5]) == ["div", "season", "match_date", "home_team", "away_team"]
    assert not {"fthg", "ftag", "ftr"} & set(league_features.columns)
    assert league_features.index.equals(league.index)
    assert set(FUNDAMENTAL_FEATURES) <= set(league_features.columns)
    assert league_features[[c for c in FUNDAMENTAL_FEATURES if "shots" not in c and "sot" not in c
                            and "form" not in c]].notna().all().all()
    probs = league_features[["match_dc_p_home", "match_dc_p_draw", "match_dc_p_away"]].sum(axis=1)
    assert probs.to_numpy() == pytest.approx(1.0)


def test_changing_one_result_only_changes_later_features(league: pd.DataFrame, league_features: pd.DataFrame) -> None:
    k = league.index[len(league) // 2]
    home = league.loc[k, "home_team"]
    changed = league.copy()
    changed.loc[k, ["fthg", "ftag"]] = [league.loc[k, "ftag"] + 4, league.loc[k, "fthg"]]
    after = build_match_features(changed)
    date = league.loc[k, "match_date"]
    # the match itself and everything up to and including its day: identical
    upto = league.index[league["match_date"] <= date]
    pd.testing.assert_frame_equal(after.loc[upto], league_features.loc[upto])
    # the home team's next match: its ratings/form moved
    later = league[(league["match_date"] > date) & ((league.home_team == home) | (league.away_team == home))]
    nxt = later.index[0]
    side = "home" if league.loc[nxt, "home_team"] == home else "away"
    for col in (f"{side}_elo", f"{side}_pi_home", f"{side}_form5_points"):
        assert after.loc[nxt, col] != pytest.approx(league_features.loc[nxt, col]), col


def test_market_features_from_pre_match_odds_only(league: pd.DataFrame) -> None:
    with_odds = league.copy()
    with_odds["odds_pre_h"], with_odds["odds_pre_d"], with_odds["odds_pre_a"] = 2.0, 4.0, 4.0
    with_odds["odds_close_h"], with_odds["odds_close_d"], with_odds["odds_close_a"] = 1.5, 5.0, 7.0
    f = build_match_features(with_odds)
    assert f["match_market_p_home"].to_numpy() == pytest.approx(0.5)
    assert f["match_market_overround"].to_numpy() == pytest.approx(1.0)
    # closing odds never reach the features
    with_odds["odds_close_h"] = 9.0
    pd.testing.assert_frame_equal(build_match_features(with_odds), f)


@pytest.mark.parametrize("where", ["season_start", "mid_season"])
def test_features_from_state_equal_match_features(
    league: pd.DataFrame, league_features: pd.DataFrame, where: str
) -> None:
    third = league[league.season == "1819"]
    dates = sorted(third["match_date"].unique())
    cut = dates[0] if where == "season_start" else dates[len(dates) // 2]
    history = league[league["match_date"] < cut]
    # the season's fixture list (published before it starts; no results) lets a new season start
    # (promoted-team priors, regression) before its first result, as the first match would
    fixtures = third.loc[third["match_date"] >= cut, ["div", "season", "match_date", "home_team", "away_team"]]
    states = team_state_after(history, upcoming=fixtures)
    for k in league.index[league["match_date"] == cut]:
        row = league.loc[k]
        got = features_from_states(states.loc[row.home_team], states.loc[row.away_team], row.match_date,
                                   div=row["div"], season=row.season)
        want = league_features.loc[k]
        for col in FUNDAMENTAL_FEATURES:
            if col in DC_COLUMNS:  # refitted on the same matches; only the decay reference day differs
                assert got[col] == pytest.approx(want[col], abs=2e-3), col
            elif col == "div":
                assert got[col] == want[col]
            else:
                assert got[col] == pytest.approx(want[col], nan_ok=True), col


def test_team_state_for_a_new_season_gives_promoted_team_a_prior(league: pd.DataFrame) -> None:
    fixtures = pd.DataFrame([{"div": "L1", "season": "1920", "match_date": "2019-08-10", "home_team": "Z",
                              "away_team": "A"}, {"div": "L1", "season": "1920", "match_date": "2019-08-10",
                                                  "home_team": "B", "away_team": "C"}])
    states = team_state_after(league, upcoming=fixtures)
    # Z is unseen: it inherits the mean rating of the leavers (1819 teams absent from the fixtures), not 1500
    assert "Z" in states.index and states.loc["Z", "season"] == "1920"
    leavers = sorted(set(league.loc[league.season == "1819", "home_team"]) - {"Z", "A", "B", "C"})
    assert states.loc["Z", "elo"] != pytest.approx(1500.0)
    assert min(states.loc[leavers, "elo"]) - 1e-6 <= states.loc["Z", "elo"] <= max(states.loc[leavers, "elo"]) + 1e-6
    f = features_from_states(states.loc["Z"], states.loc["A"], "2019-08-10", div="L1", season="1920")
    assert f["home_season_matches"] == 0 and f["away_season_matches"] == 0
    assert f["match_season_day"] == 0


# --------------------------------------------------------------------------------------------- models


def test_ordered_logit_probs_by_hand() -> None:
    # x = 0, beta = 1, cuts -0.5 / 0.5: P(A) = s(-0.5) = 0.377541, P(A or D) = s(0.5) = 0.622459
    p = ordered_logit_probs(np.array([0.0]), 1.0, -0.5, 0.5)[0]
    assert p == pytest.approx([0.377541, 0.244918, 0.377541], abs=1e-6)


def test_ordered_logit_recovers_simulated_relation() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 100, 20000)
    truth = ordered_logit_probs(x, 0.012, -0.9, 0.3)
    y = np.array([rng.choice(3, p=p) for p in truth])
    frame = pd.DataFrame({"season": "1718", "div": "L1", "match_elo_diff": x, "fthg": np.where(y == 0, 1, 0),
                          "ftag": np.where(y == 2, 1, 0)})
    model = OrderedLogitModel(feature="match_elo_diff").fit(frame)
    grid = pd.DataFrame({"match_elo_diff": [-200.0, 0.0, 150.0]})
    assert model.predict_proba(grid) == pytest.approx(ordered_logit_probs(grid["match_elo_diff"].to_numpy(),
                                                                          0.012, -0.9, 0.3), abs=0.02)


def test_base_rates_and_market_fallback() -> None:
    train = pd.DataFrame({"season": ["1718"] * 5, "div": ["L1", "L1", "L1", "L1", "L2"],
                          "fthg": [1, 2, 0, 1, 0], "ftag": [0, 2, 1, 0, 3]})
    base = BaseRateModel().fit(train)
    test = pd.DataFrame({"div": ["L1", "L2", "L9"]})
    # L1: H, D, A, H -> (0.5, 0.25, 0.25); L2: A -> (0, 0, 1) clipped; unknown league: all five (0.4, 0.2, 0.4)
    p = base.predict_proba(test)
    assert p[0] == pytest.approx([0.5, 0.25, 0.25], abs=1e-5)
    assert p[1] == pytest.approx([0.0, 0.0, 1.0], abs=1e-5)
    assert p[2] == pytest.approx([0.4, 0.2, 0.4], abs=1e-5)
    frame = pd.DataFrame({"div": ["L1", "L1"], "match_market_p_home": [0.6, np.nan],
                          "match_market_p_draw": [0.25, np.nan], "match_market_p_away": [0.15, np.nan]})
    market = MarketModel().fit(train).predict_proba(frame)
    assert market[0] == pytest.approx([0.6, 0.25, 0.15], abs=1e-5)
    assert market[1] == pytest.approx([0.5, 0.25, 0.25], abs=1e-5)


def test_catboost_learns_from_features(league: pd.DataFrame, league_features: pd.DataFrame) -> None:
    frame = league_features.copy()
    frame["fthg"], frame["ftag"] = league["fthg"], league["ftag"]
    train, test = frame[frame.season != "1819"], frame[frame.season == "1819"]
    model = CatBoostModel(iterations=60, depth=3, learning_rate=0.1, thread_count=1, min_season=None).fit(train)
    p = model.predict_proba(test)
    assert p.shape == (len(test), 3) and p.sum(axis=1) == pytest.approx(1.0)
    # class order is H, D, A: home-win probability rises with the Elo difference
    strong = test["match_elo_diff"] > test["match_elo_diff"].quantile(0.75)
    weak = test["match_elo_diff"] < test["match_elo_diff"].quantile(0.25)
    assert p[strong.to_numpy(), 0].mean() > p[weak.to_numpy(), 0].mean()
    with pytest.raises(ValueError, match="feature_set"):
        CatBoostModel(feature_set="magic")
    assert make_model("catboost_market_aware", iterations=5).features == MARKET_AWARE_FEATURES


def test_catboost_baseline_starts_from_the_market(league: pd.DataFrame, league_features: pd.DataFrame) -> None:
    frame = league_features.copy()
    frame["fthg"], frame["ftag"] = league["fthg"], league["ftag"]
    rng = np.random.default_rng(4)
    market = rng.dirichlet([4, 2.5, 3], size=len(frame))
    market[::7] = np.nan  # matches without odds fall back on Dixon-Coles
    frame[["match_market_p_home", "match_market_p_draw", "match_market_p_away"]] = market
    # one tree with a negligible step: the prediction is the baseline itself
    model = CatBoostModel(feature_set="market_aware", baseline="market", iterations=1, learning_rate=1e-6,
                          thread_count=1, min_season=None, min_rows=50).fit(frame)
    p = model.predict_proba(frame)
    expected = np.where(np.isnan(market), frame[["match_dc_p_home", "match_dc_p_draw", "match_dc_p_away"]], market)
    assert p == pytest.approx(expected, abs=1e-4)


def test_offset_wrapper_adds_the_baseline_for_every_row_format(league: pd.DataFrame,
                                                                league_features: pd.DataFrame) -> None:
    frame = league_features.copy()
    frame["fthg"], frame["ftag"] = league["fthg"], league["ftag"]
    market = np.random.default_rng(5).dirichlet([4, 2.5, 3], size=len(frame))
    market[::5] = np.nan
    frame[["match_market_p_home", "match_market_p_draw", "match_market_p_away"]] = market
    model = CatBoostModel(feature_set="market_aware", baseline="market", iterations=30, depth=3, learning_rate=0.1,
                          thread_count=1, min_season=None, min_rows=50).fit(frame)
    x = model._pool_frame(frame.tail(40))
    p = model.predict_proba(frame.tail(40))
    # by hand: softmax(trees + log p_market), Dixon-Coles where the odds are missing
    raw = model.model_.predict(x, prediction_type="RawFormulaVal")
    mk = market[-40:]
    base = np.where(np.isnan(mk), x[["match_dc_p_home", "match_dc_p_draw", "match_dc_p_away"]].to_numpy(float), mk)
    z = np.exp(raw + np.log(base))
    np.testing.assert_allclose(p, z / z.sum(axis=1, keepdims=True), rtol=0, atol=1e-9)
    # the native predict_proba ignores the baseline: that is why the wrapper exists
    assert np.abs(model.model_.predict_proba(x) - p).max() > 0.05
    wrapper = model.predictor_
    assert wrapper.feature_names_ == MARKET_AWARE_FEATURES and wrapper.classes_ == [0, 1, 2]
    rows = x.to_numpy(dtype=object)
    np.testing.assert_allclose(wrapper.predict_proba(rows, thread_count=1), p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(wrapper.predict_proba(rows.tolist()), p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(wrapper.predict_proba([rows[0].tolist()])[0], p[0], rtol=0, atol=1e-12)
    bad = rows[:1].copy()
    bad[0, [x.columns.get_loc(c) for c in ("match_market_p_home", "match_dc_p_home")]] = np.nan
    with pytest.raises(ValueError, match="missing for 1 row"):
        wrapper.predict_proba(bad)
    with pytest.raises(ValueError, match="2-D"):
        wrapper.predict_proba(rows[0])
    with pytest.raises(ValueError, match="feature set lacks"):
        CatBoostModel(feature_set="fundamentals", baseline="market")
    with pytest.raises(ValueError, match="unknown baseline"):
        CatBoostModel(feature_set="market_aware", baseline="closing")


def test_temperature_calibration_undoes_overconfidence() -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 0.7, (6000, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in truth])
    sharp = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
    cal = TemperatureCalibrator().fit(sharp, y)
    assert cal.temperature_ == pytest.approx(2.0, rel=0.15)
    assert rps(cal.transform(sharp), y) < rps(sharp, y)
    assert TemperatureCalibrator().fit(sharp[:100], y[:100]).temperature_ == 1.0  # too few rows: identity


def test_linear_pool_weights() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 0.8, (4000, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in truth])
    noise = rng.dirichlet(np.ones(3), size=4000)
    stack = LinearPool("stack").fit([truth, noise], y)
    assert stack.weights_[0] > 0.85
    avg = LinearPool("average").fit([truth, noise], y)
    assert avg.weights_ == pytest.approx([0.5, 0.5])
    assert avg.predict([truth, noise]) == pytest.approx((truth + noise) / 2, abs=1e-5)


def test_ordered_logit_on_real_features_orders_outcomes(league: pd.DataFrame, league_features: pd.DataFrame) -> None:
    frame = league_features.copy()
    frame["fthg"], frame["ftag"] = league["fthg"], league["ftag"]
    model = make_model("elo_ol", min_season=None).fit(frame)
    y = outcome_index(frame["fthg"], frame["ftag"])
    assert rps(model.predict_proba(frame), y) < rps(BaseRateModel().fit(frame).predict_proba(frame), y)
