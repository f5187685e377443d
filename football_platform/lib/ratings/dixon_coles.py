"""Dixon-Coles (1997) goal model with exponential time decay, refitted per league on a cadence.

M. J. Dixon and S. G. Coles, "Modelling association football scores and inefficiencies in the football
betting market", Applied Statistics 46(2), 265-280 (1997).

Home goals X ~ Poisson(lambda), away goals Y ~ Poisson(mu), with

    log lambda = c + h + a_home - d_away        log mu = c + a_away - d_home

(``a`` attack, ``d`` defence: larger is better), and the low-score dependence

    tau(0,0) = 1 - lambda mu rho,  tau(0,1) = 1 + lambda rho,  tau(1,0) = 1 + mu rho,  tau(1,1) = 1 - rho.

The weighted log-likelihood uses ``w = exp(-xi * days_before_refit)`` (the paper's time decay, xi per
day). A ridge penalty centres every team's (a, d) on 0, except newcomers to the league, centred on the
promoted-team prior (:func:`football_platform.lib.ratings._common.newcomer_priors`) with a stronger
weight: the prior acts like a few matches of evidence and fades as the team's own matches arrive. It
also makes the model identifiable without a sum-to-zero constraint.

Fits use L-BFGS-B with the analytic gradient, warm-started from the league's previous fit, and only
matches strictly before the refit date.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import gammaln

from football_platform.lib.ratings._common import TeamSets, newcomer_priors, prepare_matches, season_team_sets
from football_platform.lib.ratings._driver import MatchRow, RatingResult, run_daily, starts_new_season

_EPOCH = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class DixonColesParams:
    """Settings.

    ``xi`` was chosen by nested walk-forward on test seasons 2012/13-2016/17 (six leagues, monthly
    refits, ``benchmarks/model_quality.py --tune``): RPS 0.20380 / 0.20344 / 0.20357 for
    xi = 0.0012 / 0.0019 / 0.0026 per day.
    """

    xi: float = 0.0019  # per day: a match a year old weighs exp(-0.0019 * 365) = 0.50
    min_weight: float = 0.03  # matches older than log(1/min_weight)/xi days are dropped (speed)
    ridge: float = 0.5
    newcomer_ridge: float = 6.0
    newcomer_weight: float = 0.5
    refit: str = "week"  # 'day' | 'week' | 'month'
    max_goals: int = 10
    rho_bounds: tuple[float, float] = (-0.3, 0.3)
    initial_intercept: float = 0.3
    initial_home: float = 0.25
    league_ridge: float = 1.0  # weak prior on intercept and home effect (see penalised_objective)


@dataclass(frozen=True)
class DixonColesFit:
    """One fitted league model."""

    teams: tuple[str, ...]
    attack: np.ndarray
    defence: np.ndarray
    intercept: float
    home: float
    rho: float
    n_matches: int
    as_of: pd.Timestamp | None = None

    def team_params(self, team: str) -> tuple[float, float] | None:
        try:
            i = self.teams.index(team)
        except ValueError:
            return None
        return float(self.attack[i]), float(self.defence[i])


def _day(ts: pd.Timestamp) -> int:
    return int((pd.Timestamp(ts) - _EPOCH).days)


@functools.lru_cache(maxsize=65536)
def block_start(date: pd.Timestamp, cadence: str) -> pd.Timestamp:
    """First day of the refit block containing ``date`` (Monday of its week, first of its month, or the day)."""
    d = pd.Timestamp(date).normalize()
    if cadence == "day":
        return d
    if cadence == "week":
        return d - pd.Timedelta(days=d.weekday())
    if cadence == "month":
        return d.replace(day=1)
    raise ValueError(f"unknown refit cadence {cadence!r}; use 'day', 'week' or 'month'")


class _FitArrays(NamedTuple):
    hi: np.ndarray  # home team index per match
    ai: np.ndarray  # away team index per match
    x: np.ndarray  # home goals
    y: np.ndarray  # away goals
    w: np.ndarray  # match weights (time decay)
    centre: np.ndarray  # (n_teams, 2) ridge centres for attack, defence
    s: np.ndarray  # ridge strength per team
    cells: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # masks of 0-0, 0-1, 1-0, 1-1 (tau's cells)


def _fit_arrays(home_idx: np.ndarray, away_idx: np.ndarray, home_goals: np.ndarray, away_goals: np.ndarray,
                weights: np.ndarray, n_teams: int, centre: np.ndarray | None, strength: np.ndarray | float
                ) -> _FitArrays:
    """The inputs of a fit as typed arrays, with the low-score cells the Dixon-Coles correction touches."""
    x = np.asarray(home_goals, dtype=float)
    y = np.asarray(away_goals, dtype=float)
    cells = (((x == 0) & (y == 0)), ((x == 0) & (y == 1)), ((x == 1) & (y == 0)), ((x == 1) & (y == 1)))
    return _FitArrays(
        hi=np.asarray(home_idx, dtype=np.int64),
        ai=np.asarray(away_idx, dtype=np.int64),
        x=x,
        y=y,
        w=np.asarray(weights, dtype=float),
        centre=np.zeros((n_teams, 2)) if centre is None else np.asarray(centre, dtype=float),
        s=np.broadcast_to(np.asarray(strength, dtype=float), (n_teams,)),
        cells=cells,
    )


def penalised_objective(
    home_idx: np.ndarray,
    away_idx: np.ndarray,
    home_goals: np.ndarray,
    away_goals: np.ndarray,
    weights: np.ndarray,
    n_teams: int,
    centre: np.ndarray | None = None,
    strength: np.ndarray | float = 0.5,
    league_prior: tuple[float, float, float] = (0.3, 0.25, 1.0),
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``theta -> (negative penalised log-likelihood, its gradient)`` for ``theta = [c, h, rho, a.., d..]``.

    ``league_prior = (c0, h0, weight)`` is a weak ridge on the intercept and home effect (about one
    match of evidence): irrelevant with a season of data, it keeps the first fits of a league (a
    handful of matches, maybe all 0-0) finite.
    """
    c0, h0, lw = league_prior
    n = n_teams
    hi, ai, x, y, w, centre, s, (m00, m01, m10, m11) = _fit_arrays(
        home_idx, away_idx, home_goals, away_goals, weights, n_teams, centre, strength
    )
    w00, w01, w10, w11 = w[m00], w[m01], w[m10], w[m11]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        c, h, rho = theta[0], theta[1], theta[2]
        att = theta[3 : 3 + n]
        dfn = theta[3 + n :]
        log_lam = c + h + att[hi] - dfn[ai]
        log_mu = c + att[ai] - dfn[hi]
        if log_lam.size and max(log_lam.max(), log_mu.max()) > 7.0:
            return math.inf, np.zeros_like(theta)  # > 1,000 expected goals: a runaway trial step
        lam = np.exp(log_lam)
        mu = np.exp(log_mu)
        l00, u00, l01, u10 = lam[m00], mu[m00], lam[m01], mu[m10]
        t00 = 1.0 - l00 * u00 * rho
        t01 = 1.0 + l01 * rho
        t10 = 1.0 + u10 * rho
        t11 = 1.0 - rho
        if (t00.size and t00.min() <= 0) or (t01.size and t01.min() <= 0) or (t10.size and t10.min() <= 0) \
                or t11 <= 0:
            return math.inf, np.zeros_like(theta)  # outside the region where tau is a valid correction
        ll = w * (x * log_lam - lam + y * log_mu - mu)
        g_lam = w * (x - lam)  # d LL / d log lambda
        g_mu = w * (y - mu)
        g_rho = 0.0
        total = ll.sum()
        # low-score corrections, only on the four affected cells
        total += (w00 * np.log(t00)).sum()
        d00 = -w00 * l00 * u00 * rho / t00
        g_lam[m00] += d00
        g_mu[m00] += d00
        g_rho += (-w00 * l00 * u00 / t00).sum()
        total += (w01 * np.log(t01)).sum()
        g_lam[m01] += w01 * l01 * rho / t01
        g_rho += (w01 * l01 / t01).sum()
        total += (w10 * np.log(t10)).sum()
        g_mu[m10] += w10 * u10 * rho / t10
        g_rho += (w10 * u10 / t10).sum()
        total += w11.sum() * math.log(t11)
        g_rho += -w11.sum() / t11
        ga = np.bincount(hi, weights=g_lam, minlength=n) + np.bincount(ai, weights=g_mu, minlength=n)
        gd = -np.bincount(ai, weights=g_lam, minlength=n) - np.bincount(hi, weights=g_mu, minlength=n)
        da = att - centre[:, 0]
        dd = dfn - centre[:, 1]
        penalty = 0.5 * float((s * (da * da + dd * dd)).sum()) + 0.5 * lw * ((c - c0) ** 2 + (h - h0) ** 2)
        grad = np.empty_like(theta)
        grad[0] = g_lam.sum() + g_mu.sum() - lw * (c - c0)
        grad[1] = g_lam.sum() - lw * (h - h0)
        grad[2] = g_rho
        grad[3 : 3 + n] = ga - s * da
        grad[3 + n :] = gd - s * dd
        return -(total - penalty), -grad

    return objective


def fit_dixon_coles(
    home_idx: np.ndarray,
    away_idx: np.ndarray,
    home_goals: np.ndarray,
    away_goals: np.ndarray,
    weights: np.ndarray,
    n_teams: int,
    centre: np.ndarray | None = None,
    strength: np.ndarray | float = 0.5,
    init: np.ndarray | None = None,
    rho_bounds: tuple[float, float] = (-0.3, 0.3),
    tol: float = 1e-2,
    max_iter: int = 50,
    league_prior: tuple[float, float, float] = (0.3, 0.25, 1.0),
) -> np.ndarray:
    """Maximise the penalised weighted DC likelihood.

    Returns the parameter vector ``[c, h, rho, attack_0..n-1, defence_0..n-1]``. ``centre`` is an
    ``(n_teams, 2)`` array of ridge centres for (attack, defence), ``strength`` the ridge weight per team.
    """
    objective = penalised_objective(
        home_idx, away_idx, home_goals, away_goals, weights, n_teams, centre, strength, league_prior
    )
    n = n_teams
    hi, ai, x, y, w, centre, s, (m00, m01, m10, m11) = _fit_arrays(
        home_idx, away_idx, home_goals, away_goals, weights, n_teams, centre, strength
    )
    w00, w01, w10, w11 = w[m00], w[m01], w[m10], w[m11]

    if init is None:
        init = np.concatenate([[league_prior[0], league_prior[1], 0.0], centre[:, 0], centre[:, 1]])
    theta = np.array(init, dtype=float)
    theta[2] = min(max(theta[2], rho_bounds[0]), rho_bounds[1])
    # Fisher scoring with the exact gradient: the Poisson part's expected information is cheap
    # (X' W X with a 4-sparse design) and, warm-started from last week's fit, 2-4 steps converge.
    # The rho row only gets its own curvature (block-diagonal approximation); a backtracking line
    # search keeps every step a descent step.
    m = x.shape[0]
    p_dim = 3 + 2 * n
    # Each log-lambda row touches (c, h, a_home, d_away) with signs (+, +, +, -); each log-mu row
    # (c, a_away, d_home) with (+, +, -). The information matrix is accumulated pair by pair with one
    # bincount (far cheaper than a dense X'WX on a mostly-zero design).
    idx_l = np.column_stack([np.zeros(m, np.int64), np.ones(m, np.int64), 3 + hi, 3 + n + ai])
    sgn_l = np.array([1.0, 1.0, 1.0, -1.0])
    idx_u = np.column_stack([np.zeros(m, np.int64), 3 + ai, 3 + n + hi])
    sgn_u = np.array([1.0, 1.0, -1.0])
    flat_l = (idx_l[:, :, None] * p_dim + idx_l[:, None, :]).reshape(m, -1)
    flat_u = (idx_u[:, :, None] * p_dim + idx_u[:, None, :]).reshape(m, -1)
    flat = np.concatenate([flat_l, flat_u], axis=1).ravel()
    sp_l = np.outer(sgn_l, sgn_l).ravel()
    sp_u = np.outer(sgn_u, sgn_u).ravel()
    ridge_diag = np.concatenate([[league_prior[2], league_prior[2], 0.0], s, s])
    f, g = objective(theta)
    if not math.isfinite(f):  # warm start outside the valid region: rho = 0 (tau = 1) always is valid
        theta[2] = 0.0
        f, g = objective(theta)
    if not math.isfinite(f):
        theta = np.concatenate([[league_prior[0], league_prior[1], 0.0], centre[:, 0], centre[:, 1]])
        f, g = objective(theta)

    def projected(theta: np.ndarray, g: np.ndarray) -> np.ndarray:
        # rho held on a bound by the data is optimal there: drop its gradient component
        gp = g.copy()
        if (theta[2] <= rho_bounds[0] and g[2] > 0) or (theta[2] >= rho_bounds[1] and g[2] < 0):
            gp[2] = 0.0
        return gp

    converged = False
    for _ in range(max_iter):
        g = projected(theta, g)
        if np.max(np.abs(g)) < tol:
            converged = True
            break
        c, h, rho = theta[0], theta[1], theta[2]
        att, dfn = theta[3 : 3 + n], theta[3 + n :]
        lam = np.exp(c + h + att[hi] - dfn[ai])
        mu = np.exp(c + att[ai] - dfn[hi])
        contrib = np.concatenate([(w * lam)[:, None] * sp_l, (w * mu)[:, None] * sp_u], axis=1).ravel()
        hess = np.bincount(flat, weights=contrib, minlength=p_dim * p_dim).reshape(p_dim, p_dim)
        hess[np.diag_indices(p_dim)] += ridge_diag
        l00, u00 = lam[m00], mu[m00]
        hess[2, 2] += (
            (w00 * (l00 * u00) ** 2 / np.maximum(1 - l00 * u00 * rho, 1e-10) ** 2).sum()
            + (w01 * lam[m01] ** 2 / np.maximum(1 + lam[m01] * rho, 1e-10) ** 2).sum()
            + (w10 * mu[m10] ** 2 / np.maximum(1 + mu[m10] * rho, 1e-10) ** 2).sum()
            + w11.sum() / max(1 - rho, 1e-10) ** 2
            + 1e-8
        )
        if g[2] == 0.0:  # rho fixed on its bound this step
            hess[2, :] = 0.0
            hess[:, 2] = 0.0
            hess[2, 2] = 1.0
        try:
            step = -np.linalg.solve(hess, g)
        except np.linalg.LinAlgError:
            break
        slope = float(g @ step)
        if slope >= 0:
            break
        t = 1.0
        while t > 1e-6:
            cand = theta + t * step
            cand[2] = min(max(cand[2], rho_bounds[0]), rho_bounds[1])
            f_new, g_new = objective(cand)
            if f_new <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break
        if f - f_new < 1e-12 * max(1.0, abs(f)):
            theta, f, g = cand, f_new, g_new
            converged = np.max(np.abs(projected(theta, g))) < 1e3 * tol
            break
        theta, f, g = cand, f_new, g_new
    if converged:
        return theta
    # Rare (rho stuck on a bound, degenerate windows): fall back on the robust quasi-Newton method.
    bounds = [(None, None), (None, None), rho_bounds] + [(None, None)] * (2 * n)
    res = optimize.minimize(
        objective, theta, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 1000, "gtol": 1e-6}
    )
    return res.x


def score_matrix(lam: np.ndarray, mu: np.ndarray, rho: np.ndarray | float, max_goals: int = 10) -> np.ndarray:
    """``(n, G+1, G+1)`` probabilities of home i, away j goals (truncated at ``max_goals`` and renormalised)."""
    lam = np.atleast_1d(np.asarray(lam, dtype=float))
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    rho = np.broadcast_to(np.asarray(rho, dtype=float), lam.shape)
    k = np.arange(max_goals + 1)
    log_fact = gammaln(k + 1)
    px = np.exp(k[None, :] * np.log(lam[:, None]) - lam[:, None] - log_fact[None, :])
    py = np.exp(k[None, :] * np.log(mu[:, None]) - mu[:, None] - log_fact[None, :])
    m = px[:, :, None] * py[:, None, :]
    m[:, 0, 0] *= np.maximum(1.0 - lam * mu * rho, 0.0)
    m[:, 0, 1] *= np.maximum(1.0 + lam * rho, 0.0)
    m[:, 1, 0] *= np.maximum(1.0 + mu * rho, 0.0)
    m[:, 1, 1] *= np.maximum(1.0 - rho, 0.0)
    return m / m.sum(axis=(1, 2), keepdims=True)


def outcome_probabilities(lam: np.ndarray, mu: np.ndarray, rho: np.ndarray | float, max_goals: int = 10) -> np.ndarray:
    """``(n, 3)`` H, D, A probabilities from the score matrix."""
    m = score_matrix(lam, mu, rho, max_goals)
    home = np.tril(np.ones((max_goals + 1, max_goals + 1)), -1)  # i > j
    p_h = (m * home).sum(axis=(1, 2))
    p_d = np.trace(m, axis1=1, axis2=2)
    return np.column_stack([p_h, p_d, 1.0 - p_h - p_d])


def over_probability(
    lam: np.ndarray, mu: np.ndarray, rho: np.ndarray | float, line: float = 2.5, max_goals: int = 10
) -> np.ndarray:
    """P(total goals > line)."""
    m = score_matrix(lam, mu, rho, max_goals)
    k = np.arange(max_goals + 1)
    over = (k[:, None] + k[None, :]) > line
    return (m * over).sum(axis=(1, 2))


@dataclass
class _LeagueHistory:
    days: list[int] = field(default_factory=list)
    home: list[str] = field(default_factory=list)
    away: list[str] = field(default_factory=list)
    hg: list[int] = field(default_factory=list)
    ag: list[int] = field(default_factory=list)


@dataclass
class DixonColesRater:
    """Per-league DC refitted at the start of every block (week/month) on matches strictly before it."""

    params: DixonColesParams
    team_sets: TeamSets
    history: dict[str, _LeagueHistory] = field(default_factory=dict)
    fits: dict[str, DixonColesFit] = field(default_factory=dict)
    block_of: dict[str, pd.Timestamp] = field(default_factory=dict)
    season_of: dict[str, str] = field(default_factory=dict)
    priors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    last_in_league: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    n_fits: int = 0

    def observe(self, div: str, season: str, date: pd.Timestamp) -> None:
        block = block_start(date, self.params.refit)
        if starts_new_season(self.season_of, div, season):
            self.season_of[div] = season
            # Refit first so that the leavers' values include the end of last season.
            self.priors[div] = {}
            self.refit(div, block)
            self.priors[div] = newcomer_priors(
                div, season, self.team_sets, self.last_in_league, np.zeros(2), self.params.newcomer_weight
            )
            self.refit(div, block)
            self.block_of[div] = block
        elif self.block_of.get(div) != block:
            self.refit(div, block)
            self.block_of[div] = block

    def refit(self, div: str, as_of: pd.Timestamp) -> DixonColesFit:
        """Fit league ``div`` on its matches strictly before ``as_of`` (and store it)."""
        p = self.params
        hist = self.history.setdefault(div, _LeagueHistory())
        t = _day(as_of)
        horizon = math.log(1.0 / p.min_weight) / p.xi if p.xi > 0 else float("inf")
        lo = bisect.bisect_left(hist.days, t - horizon)
        hi_pos = bisect.bisect_left(hist.days, t)  # strictly before as_of
        members = self.team_sets.get((div, self.season_of.get(div, "")), frozenset())
        win_home = hist.home[lo:hi_pos]
        win_away = hist.away[lo:hi_pos]
        teams = tuple(sorted(set(win_home) | set(win_away) | set(members)))
        index = {team: i for i, team in enumerate(teams)}
        n = len(teams)
        priors = self.priors.get(div, {})
        centre = np.zeros((n, 2))
        strength = np.full(n, p.ridge)
        for team, value in priors.items():
            if team in index:
                centre[index[team]] = value
                strength[index[team]] = p.newcomer_ridge
        previous = self.fits.get(div)
        init = np.concatenate([[p.initial_intercept, p.initial_home, 0.0], centre[:, 0], centre[:, 1]])
        if previous is not None:
            init[:3] = (previous.intercept, previous.home, previous.rho)
            for j, team in enumerate(previous.teams):
                if team in index and team not in priors:
                    init[3 + index[team]] = previous.attack[j]
                    init[3 + n + index[team]] = previous.defence[j]
        m = hi_pos - lo
        if m == 0:
            theta = init
        else:
            hidx = np.fromiter((index[x] for x in win_home), dtype=np.int64, count=m)
            aidx = np.fromiter((index[x] for x in win_away), dtype=np.int64, count=m)
            days = np.asarray(hist.days[lo:hi_pos], dtype=float)
            weights = np.exp(-p.xi * (t - days))
            theta = fit_dixon_coles(
                hidx, aidx, np.asarray(hist.hg[lo:hi_pos]), np.asarray(hist.ag[lo:hi_pos]), weights, n,
                centre=centre, strength=strength, init=init, rho_bounds=p.rho_bounds,
                league_prior=(p.initial_intercept, p.initial_home, p.league_ridge),
            )
            self.n_fits += 1
        fit = DixonColesFit(
            teams=teams, attack=theta[3 : 3 + n].copy(), defence=theta[3 + n :].copy(),
            intercept=float(theta[0]), home=float(theta[1]), rho=float(theta[2]), n_matches=m, as_of=pd.Timestamp(as_of),
        )
        self.fits[div] = fit
        if m:
            seen = set(win_home) | set(win_away) | set(priors) | set(members)
            for j, team in enumerate(teams):
                if team in seen:
                    self.last_in_league[(team, div)] = np.array([fit.attack[j], fit.defence[j]])
        return fit

    def team_params(self, div: str, team: str) -> tuple[float, float]:
        fit = self.fits.get(div)
        got = fit.team_params(team) if fit is not None else None
        if got is not None:
            return got
        prior = self.priors.get(div, {}).get(team)
        return (float(prior[0]), float(prior[1])) if prior is not None else (0.0, 0.0)

    def league_params(self, div: str) -> tuple[float, float, float]:
        fit = self.fits.get(div)
        if fit is None:
            return self.params.initial_intercept, self.params.initial_home, 0.0
        return fit.intercept, fit.home, fit.rho

    def pre_match(self, row: MatchRow) -> dict[str, float]:
        c, h, rho = self.league_params(row.div)
        ah, dh = self.team_params(row.div, row.home)
        aa, da = self.team_params(row.div, row.away)
        return {
            "dc_home_attack": ah,
            "dc_home_defence": dh,
            "dc_away_attack": aa,
            "dc_away_defence": da,
            "dc_intercept": c,
            "dc_home_adv": h,
            "dc_rho": rho,
            "dc_home_xg": math.exp(c + h + ah - da),
            "dc_away_xg": math.exp(c + aa - dh),
        }

    def update(self, row: MatchRow) -> None:
        hist = self.history.setdefault(row.div, _LeagueHistory())
        day = _day(row.date)
        # rows arrive in date order, so appending keeps ``days`` sorted for bisect
        hist.days.append(day)
        hist.home.append(row.home)
        hist.away.append(row.away)
        hist.hg.append(row.fthg)
        hist.ag.append(row.ftag)

    def state(self) -> dict[str, object]:
        return {
            "params": asdict(self.params),
            "leagues": {
                div: {
                    "intercept": f.intercept, "home": f.home, "rho": f.rho, "as_of": str(f.as_of),
                    "teams": {t: (float(f.attack[i]), float(f.defence[i])) for i, t in enumerate(f.teams)},
                }
                for div, f in self.fits.items()
            },
        }


def outcome_arrays(lam: np.ndarray, mu: np.ndarray, rho: np.ndarray, max_goals: int = 10
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 3)`` H/D/A and ``(n,)`` over-2.5 probabilities from one score matrix; NaN rows where an input is NaN."""
    lam, mu, rho = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (lam, mu, rho))
    ok = ~(np.isnan(lam) | np.isnan(mu) | np.isnan(rho))
    probs = np.full((len(lam), 3), np.nan)
    over = np.full(len(lam), np.nan)
    if ok.any():
        m = score_matrix(lam[ok], mu[ok], rho[ok], max_goals)
        k = np.arange(max_goals + 1)
        probs[ok, 0] = (m * (k[:, None] > k[None, :])).sum(axis=(1, 2))
        probs[ok, 1] = np.trace(m, axis1=1, axis2=2)
        probs[ok, 2] = 1.0 - probs[ok, 0] - probs[ok, 1]
        over[ok] = (m * ((k[:, None] + k[None, :]) > 2.5)).sum(axis=(1, 2))
    return probs, over


def add_outcome_columns(pre: pd.DataFrame, max_goals: int = 10) -> pd.DataFrame:
    """Add ``dc_p_home/draw/away`` and ``dc_p_over25`` from ``dc_home_xg``, ``dc_away_xg``, ``dc_rho``."""
    out = pre.copy()
    probs, over = outcome_arrays(*(out[c].to_numpy(dtype=float) for c in ("dc_home_xg", "dc_away_xg", "dc_rho")),
                                 max_goals=max_goals)
    out["dc_p_home"], out["dc_p_draw"], out["dc_p_away"] = probs[:, 0], probs[:, 1], probs[:, 2]
    out["dc_p_over25"] = over
    return out


def dixon_coles_ratings(matches: pd.DataFrame, params: DixonColesParams | None = None) -> RatingResult:
    """Pre-match DC values for every match (aligned to ``matches.index``) and the final state.

    Each league is refitted at the start of every ``params.refit`` block on its matches strictly before
    the block. Columns: team attack/defence, league intercept/home/rho, ``dc_home_xg``/``dc_away_xg``
    (expected goals) and ``dc_p_home/draw/away``, ``dc_p_over25``. The final state is a refit on every
    match (what a prediction made after the last match would use).
    """
    params = params or DixonColesParams()
    frame = prepare_matches(matches)
    rater = DixonColesRater(params, season_team_sets(frame))
    pre = pd.DataFrame(run_daily(frame, [rater]), index=frame.index)
    pre = add_outcome_columns(pre, params.max_goals).reindex(matches.index)
    if len(frame):
        after = frame["match_date"].max() + pd.Timedelta(days=1)
        for div in list(rater.fits):
            rater.refit(div, after)
    return RatingResult(pre=pre, state=rater.state())
