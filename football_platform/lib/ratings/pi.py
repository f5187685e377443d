"""pi-ratings (Constantinou & Fenton 2013).

A. C. Constantinou and N. E. Fenton, "Determining the level of ability of football teams by dynamic
ratings based on the relative discrepancies in scores between adversaries", Journal of Quantitative
Analysis in Sports 9(1), 37-50 (2013), doi:10.1515/jqas-2012-0036.

Every team has a home rating R^H and an away rating R^A (0 = average team). For a match of home team
alpha against away team beta (the paper's section 2, with b = 10, c = 3):

* a rating R is worth an expected goal difference against an average side of
  ``g(R) = sign(R) * (b ** (|R| / c) - 1)``;
* expected goal difference ``gD_hat = g(R_alpha^H) - g(R_beta^A)``; observed ``gD = home goals - away goals``;
* error ``e = |gD - gD_hat|``, dampened ``psi(e) = c * log_b(1 + e)`` (= 3 log10(1 + e)): a 5-0 teaches
  less than five 1-0s;
* ``psi_H = +psi(e)`` if the home side beat the expectation (gD > gD_hat), else ``-psi(e)``; ``psi_A = -psi_H``;
* only the ratings of the venue played learn at rate lambda, and each side's other-venue rating
  follows by gamma times that change::

      R_alpha^H' = R_alpha^H + lambda * psi_H         R_alpha^A' = R_alpha^A + gamma * (R_alpha^H' - R_alpha^H)
      R_beta^A'  = R_beta^A  + lambda * psi_A         R_beta^H'  = R_beta^H  + gamma * (R_beta^A'  - R_beta^A)

  so the other-venue rating moves by lambda * gamma * psi. The paper's optimised rates are
  lambda = 0.035 and gamma = 0.7.

Additions for this platform (not in the paper): promoted teams get the prior of
:func:`football_platform.lib.ratings._common.newcomer_priors` (the paper starts every team at 0), and an
optional season-start regression (0 by default, as in the paper).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from football_platform.lib.ratings._common import TeamSets, newcomer_priors, prepare_matches, season_team_sets
from football_platform.lib.ratings._driver import MatchRow, RatingResult, run_daily, starts_new_season


@dataclass(frozen=True)
class PiParams:
    """pi-rating settings; ``lam``/``gamma``/``b``/``c`` are the paper's."""

    lam: float = 0.035
    gamma: float = 0.7
    b: float = 10.0
    c: float = 3.0
    season_regression: float = 0.0
    newcomer_weight: float = 0.5


def expected_goal_difference(rating: float, b: float = 10.0, c: float = 3.0) -> float:
    """g(R) = sign(R) (b^(|R|/c) - 1): goal difference against an average opponent."""
    return math.copysign(b ** (abs(rating) / c) - 1.0, rating)


def pi_update(
    home_ratings: tuple[float, float],
    away_ratings: tuple[float, float],
    fthg: int,
    ftag: int,
    params: PiParams | None = None,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """One match of the paper's rule. Ratings are (R^H, R^A) pairs; returns the updated pairs."""
    p = params or PiParams()
    h_home, h_away = home_ratings
    a_home, a_away = away_ratings
    gd_hat = expected_goal_difference(h_home, p.b, p.c) - expected_goal_difference(a_away, p.b, p.c)
    gd = fthg - ftag
    e = abs(gd - gd_hat)
    psi = p.c * math.log(1.0 + e, p.b)
    psi_h = psi if gd > gd_hat else -psi
    psi_a = -psi_h
    new_h_home = h_home + p.lam * psi_h
    new_h_away = h_away + p.gamma * (new_h_home - h_home)
    new_a_away = a_away + p.lam * psi_a
    new_a_home = a_home + p.gamma * (new_a_away - a_away)
    return (new_h_home, new_h_away), (new_a_home, new_a_away)


@dataclass
class PiRater:
    """Sequential pi-ratings; ``ratings[team] = array([R^H, R^A])``."""

    params: PiParams
    team_sets: TeamSets
    ratings: dict[str, np.ndarray] = field(default_factory=dict)
    season_of: dict[str, str] = field(default_factory=dict)
    last_in_league: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def observe(self, div: str, season: str, date: pd.Timestamp) -> None:
        if starts_new_season(self.season_of, div, season):
            self.start_season(div, season)

    def start_season(self, div: str, season: str) -> None:
        p = self.params
        self.season_of[div] = season
        priors = newcomer_priors(div, season, self.team_sets, self.last_in_league, np.zeros(2), p.newcomer_weight)
        for team, value in priors.items():
            self.ratings[team] = np.array(value, dtype=float)
        members = sorted(self.team_sets.get((div, season), ()))
        for team in members:
            self.ratings.setdefault(team, np.zeros(2))
        if members and p.season_regression:
            mean = np.mean([self.ratings[t] for t in members], axis=0)
            for team in members:
                self.ratings[team] = mean + (1.0 - p.season_regression) * (self.ratings[team] - mean)
        for team in members:
            self.last_in_league[(team, div)] = self.ratings[team].copy()

    def rating(self, team: str) -> np.ndarray:
        return self.ratings.get(team, np.zeros(2))

    def pre_match(self, row: MatchRow) -> dict[str, float]:
        h, a = self.rating(row.home), self.rating(row.away)
        p = self.params
        return {
            "pi_home_home": float(h[0]),
            "pi_home_away": float(h[1]),
            "pi_away_home": float(a[0]),
            "pi_away_away": float(a[1]),
            "pi_exp_gd": expected_goal_difference(h[0], p.b, p.c) - expected_goal_difference(a[1], p.b, p.c),
        }

    def update(self, row: MatchRow) -> None:
        h, a = self.rating(row.home), self.rating(row.away)
        new_h, new_a = pi_update((h[0], h[1]), (a[0], a[1]), row.fthg, row.ftag, self.params)
        self.ratings[row.home] = np.array(new_h)
        self.ratings[row.away] = np.array(new_a)
        self.last_in_league[(row.home, row.div)] = self.ratings[row.home].copy()
        self.last_in_league[(row.away, row.div)] = self.ratings[row.away].copy()

    def state(self) -> dict[str, object]:
        return {
            "params": asdict(self.params),
            "ratings": {t: (float(v[0]), float(v[1])) for t, v in self.ratings.items()},
            "season": dict(self.season_of),
        }


def pi_ratings(matches: pd.DataFrame, params: PiParams | None = None) -> RatingResult:
    """Pre-match pi-ratings for every match (aligned to ``matches.index``) and the final state.

    Columns: ``pi_home_home``/``pi_home_away`` (home side's home and away ratings),
    ``pi_away_home``/``pi_away_away`` (away side's), ``pi_exp_gd`` (expected goal difference from the
    venue ratings that matter: home side's R^H and away side's R^A).
    """
    params = params or PiParams()
    frame = prepare_matches(matches)
    rater = PiRater(params, season_team_sets(frame))
    pre = pd.DataFrame(run_daily(frame, [rater]), index=frame.index).reindex(matches.index)
    return RatingResult(pre=pre, state=rater.state())
