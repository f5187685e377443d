"""Rating systems: hand-worked updates, invariants, promoted-team priors, Dixon-Coles recovery."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from football_platform.lib.ratings import (
    DixonColesParams,
    EloParams,
    PiParams,
    dixon_coles_ratings,
    elo_ratings,
    fit_dixon_coles,
    outcome_probabilities,
    over_probability,
    pi_ratings,
    score_matrix,
)
from football_platform.lib.ratings._common import season_team_sets
from football_platform.lib.ratings._driver import MatchRow
from football_platform.lib.ratings.dixon_coles import penalised_objective
from football_platform.lib.ratings.elo import EloRater, goal_multiplier


def match(div: str, season: str, date: str, home: str, away: str, hg: int, ag: int) -> dict:
    return {"div": div, "season": season, "match_date": pd.Timestamp(date), "home_team": home, "away_team": away,
            "fthg": hg, "ftag": ag}


def synthetic_matches(
    seasons: dict[str, list[str]] | None = None, div: str = "L1", seed: int = 0, strength_sd: float = 0.4
) -> pd.DataFrame:
    """Double round robin per season (one round a week from August), goals ~ Poisson of team strengths."""
    seasons = seasons or {"1718": list("ABCDEF"), "1819": list("ABCDEG")}
    rng = np.random.default_rng(seed)
    teams = sorted({t for ts in seasons.values() for t in ts})
    strength = dict(zip(teams, rng.normal(0.0, strength_sd, len(teams)), strict=True))
    rows = []
    for season, members in seasons.items():
        year = 2000 + int(season[:2])
        start = pd.Timestamp(f"{year}-08-05")
        pairs = [(h, a) for h in members for a in members if h != a]
        rng.shuffle(pairs)
        per_round = len(members) // 2
        for i, (h, a) in enumerate(pairs):
            date = start + pd.Timedelta(days=7 * (i // per_round))
            lam = math.exp(0.25 + 0.25 + strength[h] - strength[a])
            mu = math.exp(0.25 + strength[a] - strength[h])
            rows.append(match(div, season, str(date.date()), h, a, int(rng.poisson(lam)), int(rng.poisson(mu))))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- Elo


def test_goal_multiplier_world_football_elo() -> None:
    assert [goal_multiplier(n) for n in (0, 1, -1, 2, 3, -4, 6)] == [1.0, 1.0, 1.0, 1.5, 14 / 8, 15 / 8, 17 / 8]


def test_elo_three_matches_by_hand() -> None:
    """K = 20, initial home advantage 60, K_hfa = 1, all teams 1500.

    Match 1, A-B 2-0: We = 1 / (1 + 10^(-60/400)) = 0.585499; G = 1.5;
      delta = 20 * 1.5 * (1 - 0.585499) = 12.435040 -> A 1512.435040, B 1487.564960;
      HFA = 60 + 1.5 * 0.414501 = 60.621752.
    Match 2, B-A 1-1: dr = 1487.564960 + 60.621752 - 1512.435040 = 35.751672; We = 0.551270; G = 1;
      delta = 20 * (0.5 - 0.551270) = -1.025399 -> B 1486.539561, A 1513.460439; HFA = 60.570482.
    Match 3, A-B 0-3: dr = 1513.460439 + 60.570482 - 1486.539561 = 87.491360; We = 0.623315;
      G = (11 + 3) / 8 = 1.75; delta = 20 * 1.75 * (0 - 0.623315) = -21.816009
      -> A 1491.644430, B 1508.355570; HFA = 60.570482 - 1.75 * 0.623315 = 59.479682.
    """
    frame = pd.DataFrame([
        match("L1", "1718", "2017-08-05", "A", "B", 2, 0),
        match("L1", "1718", "2017-08-12", "B", "A", 1, 1),
        match("L1", "1718", "2017-08-19", "A", "B", 0, 3),
    ])
    params = EloParams(k=20, hfa_initial=60, hfa_k=1, season_regression=0.3)  # regression of equal ratings: no-op
    result = elo_ratings(frame, params)
    pre = result.pre
    assert pre.loc[0, ["elo_home", "elo_away", "elo_hfa"]].tolist() == pytest.approx([1500, 1500, 60])
    assert pre.loc[0, "elo_exp_home"] == pytest.approx(0.585499, abs=1e-6)
    assert pre.loc[1, ["elo_home", "elo_away", "elo_hfa"]].tolist() == pytest.approx(
        [1487.564960, 1512.435040, 60.621752], abs=1e-5)
    assert pre.loc[1, "elo_exp_home"] == pytest.approx(0.551270, abs=1e-6)
    assert pre.loc[2, ["elo_home", "elo_away", "elo_hfa"]].tolist() == pytest.approx(
        [1513.460439, 1486.539561, 60.570482], abs=1e-5)
    assert result.state["ratings"]["A"] == pytest.approx(1491.644430, abs=1e-5)
    assert result.state["ratings"]["B"] == pytest.approx(1508.355570, abs=1e-5)
    assert result.state["home_advantage"]["L1"] == pytest.approx(59.479682, abs=1e-5)


def test_elo_is_zero_sum_within_each_match() -> None:
    frame = synthetic_matches(seed=4)
    rater = EloRater(EloParams(), season_team_sets(frame))
    for r in frame.itertuples():
        rater.observe(r.div, r.season, r.match_date)
        before = rater.rating(r.home_team) + rater.rating(r.away_team)
        rater.update(MatchRow(r.div, r.season, r.match_date, r.home_team, r.away_team, r.fthg, r.ftag, {}))
        assert rater.rating(r.home_team) + rater.rating(r.away_team) == pytest.approx(before, abs=1e-9)


def test_elo_home_advantage_is_learnt_over_time() -> None:
    # The home side never wins any more (think 2020/21): the league's home advantage must fall.
    rows = [match("L1", "2021", f"2020-09-{d:02d}", h, a, 0, 1) for d, (h, a) in enumerate(
        [("A", "B"), ("B", "A"), ("C", "D"), ("D", "C")] * 5, start=1)]
    pre = elo_ratings(pd.DataFrame(rows), EloParams(hfa_initial=60, hfa_k=1.0)).pre
    assert pre["elo_hfa"].iloc[0] == pytest.approx(60)
    assert pre["elo_hfa"].is_monotonic_decreasing and pre["elo_hfa"].iloc[-1] < 50


def test_elo_same_day_results_are_not_used() -> None:
    # Two matches on one day: the second's pre-match home advantage must not see the first's result.
    frame = pd.DataFrame([match("L1", "1718", "2017-08-05", "A", "B", 5, 0),
                          match("L1", "1718", "2017-08-05", "C", "D", 0, 0)])
    pre = elo_ratings(frame).pre
    assert pre["elo_hfa"].tolist() == pytest.approx([EloParams().hfa_initial] * 2)


def test_promoted_team_takes_relegated_teams_rating() -> None:
    seasons = {"1718": list("ABCD"), "1819": list("ABCE")}  # D relegated, E promoted from outside the data
    frame = synthetic_matches(seasons, seed=1)
    params = EloParams(season_regression=0.0)
    pre = elo_ratings(frame, params).pre
    s1 = frame["season"] == "1718"
    last_d = frame[s1 & ((frame.home_team == "D") | (frame.away_team == "D"))].index.max()
    # D's rating after its last match = its pre-match rating +- that match's change; recompute from state
    d_final = elo_ratings(frame[s1], params).state["ratings"]["D"]
    assert d_final != pytest.approx(params.initial)  # D has a real rating, not the default
    first_e = frame[(frame.season == "1819") & ((frame.home_team == "E") | (frame.away_team == "E"))].index.min()
    side = "elo_home" if frame.loc[first_e, "home_team"] == "E" else "elo_away"
    assert pre.loc[first_e, side] == pytest.approx(d_final)
    assert last_d < first_e


def test_promotion_between_two_leagues_swaps_ratings() -> None:
    """X relegated from L1 to L2 while Y goes up: each starts from the rating of the team it replaces."""
    top = synthetic_matches({"1718": ["X", "P", "Q", "R"], "1819": ["Y", "P", "Q", "R"]}, div="L1", seed=2)
    low = synthetic_matches({"1718": ["Y", "S", "T", "U"], "1819": ["X", "S", "T", "U"]}, div="L2", seed=3)
    frame = pd.concat([top, low], ignore_index=True)
    params = EloParams(season_regression=0.0)
    first = frame[frame.season == "1718"]
    final = elo_ratings(first, params).state["ratings"]
    pre = elo_ratings(frame, params).pre
    second = frame[frame.season == "1819"]

    def first_rating(team: str) -> float:
        i = second[(second.home_team == team) | (second.away_team == team)].index.min()
        return pre.loc[i, "elo_home" if frame.loc[i, "home_team"] == team else "elo_away"]

    assert first_rating("Y") == pytest.approx(final["X"])  # Y in L1 starts where X ended in L1
    assert first_rating("X") == pytest.approx(final["Y"])  # X in L2 starts where Y ended in L2
    assert final["X"] != pytest.approx(final["Y"])


def test_season_regression_pulls_towards_league_mean() -> None:
    frame = synthetic_matches({"1718": list("ABCD"), "1819": list("ABCD")}, seed=5)
    end = elo_ratings(frame[frame.season == "1718"], EloParams()).state["ratings"]
    pre = elo_ratings(frame, EloParams(season_regression=0.5)).pre
    mean = np.mean(list(end.values()))
    i = frame[frame.season == "1819"].index.min()
    home = frame.loc[i, "home_team"]
    assert pre.loc[i, "elo_home"] == pytest.approx(mean + 0.5 * (end[home] - mean))


# ----------------------------------------------------------------------------------------- pi-ratings


def test_pi_ratings_two_matches_by_hand() -> None:
    """lambda = 0.035, gamma = 0.7, everyone at 0.

    Match 1, A-B 2-0: gD_hat = 0, e = 2, psi = 3 log10(3) = 1.431364.
      A^H = 0.035 * 1.431364 = 0.050098, A^A = 0.7 * 0.050098 = 0.035068;
      B^A = -0.050098, B^H = -0.035068 (only the venue played learns at lambda).
    Match 2, B-A 1-1: g(B^H) = -(10^(0.035068/3) - 1) = -0.027282, g(A^A) = +0.027282,
      gD_hat = -0.054563, e = 0.054563, psi = 3 log10(1.054563) = 0.069218, home beat expectation:
      B^H = -0.035068 + 0.035 * 0.069218 = -0.032646, B^A = -0.050098 + 0.7 * 0.002423 = -0.048402;
      A^A = 0.035068 - 0.002423 = 0.032646, A^H = 0.050098 - 0.001696 = 0.048402.
    """
    frame = pd.DataFrame([match("L1", "1718", "2017-08-05", "A", "B", 2, 0),
                          match("L1", "1718", "2017-08-12", "B", "A", 1, 1)])
    result = pi_ratings(frame, PiParams())
    pre = result.pre
    assert pre.loc[0, ["pi_home_home", "pi_home_away", "pi_away_home", "pi_away_away"]].tolist() == [0, 0, 0, 0]
    # before match 2: home side B = (H -0.035068, A -0.050098), away side A = (H 0.050098, A 0.035068)
    assert pre.loc[1, ["pi_home_home", "pi_home_away", "pi_away_home", "pi_away_away"]].tolist() == pytest.approx(
        [-0.0350684, -0.0500977, 0.0500977, 0.0350684], abs=1e-6)
    assert pre.loc[1, "pi_exp_gd"] == pytest.approx(-0.0545630, abs=1e-6)
    state = result.state["ratings"]
    assert state["A"] == pytest.approx((0.0484019, 0.0326458), abs=1e-6)
    assert state["B"] == pytest.approx((-0.0326458, -0.0484019), abs=1e-6)


def test_pi_ratings_other_venue_learns_at_lambda_gamma() -> None:
    frame = pd.DataFrame([match("L1", "1718", "2017-08-05", "A", "B", 3, 1)])
    state = pi_ratings(frame, PiParams(lam=0.1, gamma=0.5)).state["ratings"]
    psi = 3 * math.log10(1 + 2)
    assert state["A"] == pytest.approx((0.1 * psi, 0.05 * psi))  # home venue: lambda, away venue: lambda*gamma
    assert state["B"] == pytest.approx((-0.05 * psi, -0.1 * psi))


def test_pi_large_margins_are_dampened() -> None:
    one = pi_ratings(pd.DataFrame([match("L1", "1718", "2017-08-05", "A", "B", 1, 0)])).state["ratings"]["A"][0]
    five = pi_ratings(pd.DataFrame([match("L1", "1718", "2017-08-05", "A", "B", 5, 0)])).state["ratings"]["A"][0]
    assert five / one == pytest.approx(math.log10(6) / math.log10(2))  # log, not linear (which would be 5)


# ------------------------------------------------------------------------------------------ Dixon-Coles


def test_score_matrix_independent_poisson_when_rho_zero() -> None:
    m = score_matrix(np.array([1.0]), np.array([1.0]), 0.0, max_goals=15)[0]
    assert m.sum() == pytest.approx(1.0)
    assert m[0, 0] == pytest.approx(math.exp(-2))
    # P(draw) of two Poisson(1): e^-2 * I0(2) = 0.1353353 * 2.2795853 = 0.3085083
    p = outcome_probabilities(np.array([1.0]), np.array([1.0]), 0.0, max_goals=15)[0]
    assert p[1] == pytest.approx(0.3085083, abs=1e-6)
    assert p[0] == pytest.approx(p[2])
    # P(total > 2.5) with total ~ Poisson(2): 1 - e^-2 (1 + 2 + 2) = 0.3233236
    assert over_probability(np.array([1.0]), np.array([1.0]), 0.0)[0] == pytest.approx(0.3233236, abs=1e-6)


def test_rho_moves_mass_onto_draws() -> None:
    base = outcome_probabilities(np.array([1.2]), np.array([1.0]), 0.0)[0]
    neg = outcome_probabilities(np.array([1.2]), np.array([1.0]), -0.1)[0]
    assert neg[1] > base[1]  # rho < 0 inflates 0-0 and 1-1


def _simulate_dc(n_rounds: int, seed: int) -> tuple[np.ndarray, ...]:
    """Accept-reject sampling from the DC model with known parameters (independent of the fitter)."""
    rng = np.random.default_rng(seed)
    attack = np.array([0.35, 0.2, 0.05, 0.0, -0.1, -0.2, -0.3, 0.0])
    defence = np.array([0.3, 0.1, 0.0, -0.05, -0.1, 0.05, -0.3, 0.0])
    c, h, rho = 0.1, 0.3, -0.12
    n = len(attack)
    home, away, hg, ag = [], [], [], []
    for _ in range(n_rounds):
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                lam = math.exp(c + h + attack[i] - defence[j])
                mu = math.exp(c + attack[j] - defence[i])
                tau_max = max(1 - lam * mu * rho, 1 - rho, 1 + lam * rho, 1 + mu * rho, 1.0)
                while True:
                    x, y = rng.poisson(lam), rng.poisson(mu)
                    tau = {(0, 0): 1 - lam * mu * rho, (0, 1): 1 + lam * rho, (1, 0): 1 + mu * rho,
                           (1, 1): 1 - rho}.get((x, y), 1.0)
                    if rng.uniform() * tau_max <= tau:
                        break
                home.append(i), away.append(j), hg.append(x), ag.append(y)
    return (np.array(home), np.array(away), np.array(hg), np.array(ag), attack, defence, c, h, rho)


def test_dixon_coles_recovers_known_parameters() -> None:
    home, away, hg, ag, attack, defence, c, h, rho = _simulate_dc(n_rounds=120, seed=11)  # 6,720 matches
    theta = fit_dixon_coles(home, away, hg, ag, np.ones(len(hg)), n_teams=len(attack), strength=1e-6)
    n = len(attack)
    est_a, est_d = theta[3:3 + n], theta[3 + n:]
    # attack/defence are identified up to a shift absorbed by c: compare centred values
    assert est_a - est_a.mean() == pytest.approx(attack - attack.mean(), abs=0.06)
    assert est_d - est_d.mean() == pytest.approx(defence - defence.mean(), abs=0.06)
    assert theta[1] == pytest.approx(h, abs=0.04)
    assert theta[2] == pytest.approx(rho, abs=0.05)


def test_dixon_coles_analytic_gradient_matches_finite_differences() -> None:
    home, away, hg, ag, attack, *_ = _simulate_dc(n_rounds=3, seed=5)
    n = len(attack)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.2, 1.0, len(hg))
    centre = rng.normal(0, 0.1, (n, 2))
    f = penalised_objective(home, away, hg, ag, weights, n, centre=centre, strength=0.7, league_prior=(0.2, 0.1, 2.0))
    point = np.concatenate([[0.2, 0.3, -0.08], rng.normal(0, 0.2, 2 * n)])
    numeric = approx_fprime(point, lambda t: f(t)[0], 1e-7)
    assert f(point)[1] == pytest.approx(numeric, rel=1e-4, abs=1e-3)


def test_dixon_coles_rater_uses_only_earlier_matches_and_promoted_prior() -> None:
    frame = synthetic_matches({"1718": list("ABCDEF"), "1819": list("ABCDEG")}, seed=7)
    result = dixon_coles_ratings(frame, DixonColesParams(refit="week"))
    pre = result.pre
    assert pre[["dc_p_home", "dc_p_draw", "dc_p_away"]].sum(axis=1).to_numpy() == pytest.approx(1.0)
    # changing the last match's result cannot change any earlier prediction
    changed = frame.copy()
    last = changed.index.max()
    changed.loc[last, ["fthg", "ftag"]] = [9, 0]
    pre2 = dixon_coles_ratings(changed, DixonColesParams(refit="week")).pre
    assert np.allclose(pre.loc[:last, "dc_home_xg"], pre2.loc[:last, "dc_home_xg"])
    # G (promoted) starts near F's (relegated) last parameters, not at the league average 0
    g_first = frame[(frame.season == "1819") & ((frame.home_team == "G") | (frame.away_team == "G"))].index.min()
    f_params = dixon_coles_ratings(frame[frame.season == "1718"]).state["leagues"]["L1"]["teams"]["F"]
    side = "home" if frame.loc[g_first, "home_team"] == "G" else "away"
    got = pre.loc[g_first, [f"dc_{side}_attack", f"dc_{side}_defence"]].to_numpy(dtype=float)
    assert got == pytest.approx(np.array(f_params), abs=0.1)
    assert np.abs(np.array(f_params)).max() > 0.05  # F really differs from average
