"""Scoring rules and odds de-margining against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from football_platform.lib import market, metrics

H, D, A = 0, 1, 2


def test_rps_hand_values() -> None:
    # p = (1, 0, 0), outcome A: cumulative p (1, 1) vs observed (0, 0) -> (1 + 1) / 2 = 1.0
    assert metrics.rps(np.array([[1.0, 0.0, 0.0]]), np.array([A])) == pytest.approx(1.0)
    # p = (0.5, 0.3, 0.2), outcome H: cumulative (0.5, 0.8) vs (1, 1) -> (0.25 + 0.04) / 2 = 0.145
    p = np.array([[0.5, 0.3, 0.2]])
    assert metrics.rps(p, np.array([H])) == pytest.approx(0.145)
    # outcome D: (0.5, 0.8) vs (0, 1) -> (0.25 + 0.04) / 2 = 0.145
    assert metrics.rps(p, np.array([D])) == pytest.approx(0.145)
    # outcome A: (0.5, 0.8) vs (0, 0) -> (0.25 + 0.64) / 2 = 0.445
    assert metrics.rps(p, np.array([A])) == pytest.approx(0.445)
    # a perfect forecast scores 0; the mean over matches is the plain mean
    both = np.array([[0.0, 0.0, 1.0], [0.5, 0.3, 0.2]])
    assert metrics.rps_scores(both, np.array([A, A])) == pytest.approx([0.0, 0.445])
    assert metrics.rps(both, np.array([A, A])) == pytest.approx(0.2225)


def test_rps_respects_order() -> None:
    # Same probability on the true outcome (0.2), but mass next to it (D) is penalised less than mass
    # two steps away: RPS is ordinal, log loss is not.
    y = np.array([A])
    near = np.array([[0.0, 0.8, 0.2]])  # cumulative (0, 0.8) -> (0 + 0.64) / 2 = 0.32
    far = np.array([[0.8, 0.0, 0.2]])  # cumulative (0.8, 0.8) -> (0.64 + 0.64) / 2 = 0.64
    assert metrics.rps(near, y) == pytest.approx(0.32)
    assert metrics.rps(far, y) == pytest.approx(0.64)
    assert metrics.log_loss(near, y) == pytest.approx(metrics.log_loss(far, y))


def test_log_loss_brier_accuracy_hand_values() -> None:
    p = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
    y = np.array([H, D])
    # -(ln 0.5 + ln 0.3) / 2 = (0.693147 + 1.203973) / 2
    assert metrics.log_loss(p, y) == pytest.approx((0.6931472 + 1.2039728) / 2, abs=1e-6)
    # H: 0.5^2 + 0.3^2 + 0.2^2 = 0.38 ; D: 0.5^2 + 0.7^2 + 0.2^2 = 0.78 -> mean 0.58
    assert metrics.brier(p, y) == pytest.approx(0.58)
    assert metrics.accuracy(p, y) == pytest.approx(0.5)
    # log loss is clipped: a zero probability on the outcome costs -ln(1e-15), not infinity
    assert metrics.log_loss(np.array([[1.0, 0.0, 0.0]]), np.array([A])) == pytest.approx(-math.log(1e-15))


def test_ece_hand_values() -> None:
    p = np.array([[0.15, 0.35, 0.50], [0.15, 0.35, 0.50], [0.85, 0.10, 0.05], [0.85, 0.10, 0.05]])
    y = np.array([H, A, H, H])
    ece = metrics.ece_per_outcome(p, y)
    # H: bin [0.1,0.2): p 0.15, hit 1/2 -> 2/4*0.35 ; bin [0.8,0.9): p 0.85, hit 1 -> 2/4*0.15 ; = 0.25
    assert ece["H"] == pytest.approx(0.25)
    # D: bin [0.3,0.4): p 0.35, hit 0 -> 0.175 ; bin [0.1,0.2): p 0.10, hit 0 -> 0.05 ; = 0.225
    assert ece["D"] == pytest.approx(0.225)
    # A: bin [0.5,0.6): p 0.5, hit 1/2 -> 0 ; bin [0,0.1): p 0.05, hit 0 -> 0.025
    assert ece["A"] == pytest.approx(0.025)


def test_calibration_slope_detects_overconfidence() -> None:
    rng = np.random.default_rng(3)
    n = 20000
    logits = rng.normal(0.0, 0.8, size=(n, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in truth])
    calibrated = metrics.calibration_slope(truth, y)
    assert all(abs(v - 1.0) < 0.1 for v in calibrated.values()), calibrated
    sharp = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)  # twice too confident
    overconfident = metrics.calibration_slope(sharp, y)
    assert all(v < 0.75 for v in overconfident.values()), overconfident


def test_paired_bootstrap() -> None:
    rng = np.random.default_rng(0)
    b = rng.uniform(0.1, 0.3, size=500)
    exact = metrics.paired_bootstrap_diff(b + 0.01, b)
    assert exact.mean == pytest.approx(0.01)
    assert exact.low == pytest.approx(0.01) and exact.high == pytest.approx(0.01)  # no variance in a - b
    noisy = metrics.paired_bootstrap_diff(b + rng.normal(0.0, 0.05, size=500), b, n_boot=500)
    assert noisy.low < noisy.mean < noisy.high
    # standard error ~ 0.05 / sqrt(500) = 0.0022 -> 95% interval about +-0.0044 wide each side
    assert 0.002 < (noisy.high - noisy.low) / 2 < 0.008
    with pytest.raises(ValueError):
        metrics.paired_bootstrap_diff(b, b[:10])


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="shape"):
        metrics.rps(np.array([[0.5, 0.5]]), np.array([H]))
    with pytest.raises(ValueError, match="class indices"):
        metrics.rps(np.array([[0.5, 0.3, 0.2]]), np.array([3]))
    assert list(metrics.outcome_index(np.array([2, 1, 0]), np.array([1, 1, 3]))) == [H, D, A]


def test_implied_probabilities_normalise_inverse_odds() -> None:
    # 1/1.9 + 1/3.8 + 1/3.8 = 0.5263 + 0.2632 + 0.2632 = 1.0526 -> (0.5, 0.25, 0.25)
    p = market.implied_probabilities(np.array([[1.9, 3.8, 3.8], [2.0, 4.0, 4.0]]))
    assert p == pytest.approx(np.array([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]]))
    assert market.overround(np.array([[1.9, 3.8, 3.8]]))[0] == pytest.approx(1 / 1.9 + 2 / 3.8)
    # a price <= 1 or missing makes the whole row unusable
    bad = market.implied_probabilities(np.array([[0.9, 3.0, 4.0], [np.nan, 3.0, 4.0]]))
    assert np.isnan(bad).all()


def test_shin_probabilities() -> None:
    fair = market.shin_probabilities(np.array([[2.0, 4.0, 4.0]]))
    assert fair == pytest.approx(np.array([[0.5, 0.25, 0.25]]), abs=1e-9)  # no margin -> z = 0
    odds = np.array([[1.40, 4.60, 8.50]])
    shin = market.shin_probabilities(odds)[0]
    basic = market.implied_probabilities(odds)[0]
    assert shin.sum() == pytest.approx(1.0)
    # Shin puts the margin mostly on the longshot: favourite up, longshot down vs basic normalisation
    assert shin[0] > basic[0] and shin[2] < basic[2]
    # Shin's model: (1 - z) p_i^2 + z p_i = pi_i^2 / beta with ONE z for every outcome
    pi = 1 / odds[0]
    beta = pi.sum()
    z = (pi**2 / beta - shin**2) / (shin - shin**2)
    assert z == pytest.approx(np.full(3, z[0]), abs=1e-7)
    assert 0 < z[0] < 0.1


def test_select_wide_odds_prefers_pinnacle_and_skips_bad_triples() -> None:
    frame = pd.DataFrame(
        {
            "PSH": [2.0, 0.95], "PSD": [3.5, 3.4], "PSA": [4.0, 4.1],  # row 2: PSH <= 1 is invalid
            "AvgH": [1.9, 2.1], "AvgD": [3.3, 3.2], "AvgA": [3.8, 3.6],
            "B365>2.5": [1.8, None], "B365<2.5": [2.0, None],
            "AvgCH": [1.95, 2.2], "AvgCD": [3.4, 3.3], "AvgCA": [3.9, 3.5],
        }
    )
    out = market.select_wide_odds(frame)
    assert list(out.loc[0, ["odds_pre_h", "odds_pre_d", "odds_pre_a"]]) == [2.0, 3.5, 4.0]
    assert list(out.loc[1, ["odds_pre_h", "odds_pre_d", "odds_pre_a"]]) == [2.1, 3.2, 3.6]
    assert out.loc[0, "odds_pre_over25"] == 1.8 and np.isnan(out.loc[1, "odds_pre_over25"])
    assert list(out.loc[1, ["odds_close_h", "odds_close_d", "odds_close_a"]]) == [2.2, 3.3, 3.5]


def test_select_long_odds_matches_parser_form() -> None:
    key = {"div": "E0", "season": "2324", "home_team": "Arsenal", "away_team": "Chelsea"}
    rows = []
    for book, prices in (("B365", (2.0, 3.4, 3.9)), ("PS", (2.05, 3.5, 4.0))):
        for sel, price in zip("HDA", prices, strict=True):
            rows.append({**key, "bookmaker": book, "market": "1x2", "period": "pre", "selection": sel, "price": price})
    for sel, price in zip("HDA", (1.95, 3.6, 4.2), strict=True):
        rows.append({**key, "bookmaker": "PS", "market": "1x2", "period": "close", "selection": sel, "price": price})
    out = market.select_long_odds(pd.DataFrame(rows))
    assert len(out) == 1
    assert list(out.loc[0, ["odds_pre_h", "odds_pre_d", "odds_pre_a"]]) == [2.05, 3.5, 4.0]
    assert list(out.loc[0, ["odds_close_h", "odds_close_d", "odds_close_a"]]) == [1.95, 3.6, 4.2]
    assert np.isnan(out.loc[0, "odds_pre_over25"])
