"""Elo ratings with goal-difference weighting, a home advantage learnt over time, and promoted-team priors.

Per match (home h, away a, league L):

* expected home score  ``We = 1 / (1 + 10 ** (-(R_h + HFA_L - R_a) / 400))``;
* actual score ``W`` = 1 / 0.5 / 0 for a home win / draw / away win;
* goal-difference multiplier of the World Football Elo ratings (eloratings.net):
  ``G = 1`` for a margin of 0 or 1, ``1.5`` for 2, ``(11 + N) / 8`` for N >= 3;
* ``delta = K * G * (W - We)``; ``R_h += delta``, ``R_a -= delta`` (zero-sum within a match);
* the league's home advantage follows the home sides' surprise: ``HFA_L += K_hfa * G * (W - We)``. This
  is an online gradient step on HFA, so it drifts to whatever the recent home edge is (it collapsed in
  2020/21 without crowds) instead of being a constant.

At the first match of a league season every newcomer gets the prior of
:func:`football_platform.lib.ratings._common.newcomer_priors` and then all ratings of the league are
regressed towards the league mean by ``season_regression`` (squads change over the summer).
Ratings are on one scale per league (mean ~ ``initial``), so a number is only comparable within a league.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from football_platform.lib.ratings._common import (
    TeamSets,
    newcomer_priors,
    prepare_matches,
    season_team_sets,
)
from football_platform.lib.ratings._driver import MatchRow, RatingResult, run_daily, starts_new_season


@dataclass(frozen=True)
class EloParams:
    """Elo settings.

    ``k``, ``hfa_k`` and ``season_regression`` were chosen by nested walk-forward on test seasons
    2012/13-2016/17 (six leagues, Elo + ordered logit refitted each season on all earlier seasons,
    ``benchmarks/model_quality.py --tune``) over k in {10, 12.5, 15, 20}, hfa_k in {0.25, 0.5, 1} and
    regression in {0, 0.05, 0.1, 0.2}: best RPS 0.20347 at (12.5, 0.5, 0.2); the surface is flat
    (k = 15 or regression 0.1 within 0.00002). ``newcomer_weight`` 0, 0.5, 1 tie (0.20348/0.20347/0.20348).
    """

    k: float = 12.5
    hfa_initial: float = 65.0
    hfa_k: float = 0.5
    season_regression: float = 0.2
    newcomer_weight: float = 0.5
    initial: float = 1500.0


def goal_multiplier(goal_diff: int) -> float:
    """World Football Elo margin multiplier G."""
    n = abs(int(goal_diff))
    if n <= 1:
        return 1.0
    if n == 2:
        return 1.5
    return (11.0 + n) / 8.0


def expected_home_score(r_home: float, r_away: float, hfa: float) -> float:
    """Probability-like expected score of the home side (draw = half a win)."""
    return 1.0 / (1.0 + 10.0 ** (-(r_home + hfa - r_away) / 400.0))


@dataclass
class EloRater:
    """Sequential Elo; feed it through :func:`football_platform.lib.ratings._driver.run_daily`."""

    params: EloParams
    team_sets: TeamSets
    ratings: dict[str, float] = field(default_factory=dict)
    hfa: dict[str, float] = field(default_factory=dict)
    season_of: dict[str, str] = field(default_factory=dict)
    last_in_league: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def observe(self, div: str, season: str, date: pd.Timestamp) -> None:
        if starts_new_season(self.season_of, div, season):
            self.start_season(div, season)

    def start_season(self, div: str, season: str) -> None:
        """Newcomer priors, then regression of the league's ratings towards their mean."""
        p = self.params
        self.season_of[div] = season
        self.hfa.setdefault(div, p.hfa_initial)
        priors = newcomer_priors(div, season, self.team_sets, self.last_in_league, np.array([p.initial]), p.newcomer_weight)
        for team, value in priors.items():
            self.ratings[team] = float(value[0])
        members = sorted(self.team_sets.get((div, season), ()))
        for team in members:
            if team not in self.ratings:  # unseen and no prior computed (e.g. no league history at all)
                self.ratings[team] = p.initial
        if members and p.season_regression:
            mean = float(np.mean([self.ratings[t] for t in members]))
            for team in members:
                self.ratings[team] = mean + (1.0 - p.season_regression) * (self.ratings[team] - mean)
        for team in members:
            self.last_in_league[(team, div)] = np.array([self.ratings[team]])

    def rating(self, team: str) -> float:
        return self.ratings.get(team, self.params.initial)

    def pre_match(self, row: MatchRow) -> dict[str, float]:
        r_h, r_a = self.rating(row.home), self.rating(row.away)
        hfa = self.hfa.get(row.div, self.params.hfa_initial)
        return {"elo_home": r_h, "elo_away": r_a, "elo_hfa": hfa, "elo_exp_home": expected_home_score(r_h, r_a, hfa)}

    def update(self, row: MatchRow) -> None:
        p = self.params
        r_h, r_a = self.rating(row.home), self.rating(row.away)
        hfa = self.hfa.get(row.div, p.hfa_initial)
        we = expected_home_score(r_h, r_a, hfa)
        w = 1.0 if row.fthg > row.ftag else 0.5 if row.fthg == row.ftag else 0.0
        g = goal_multiplier(row.fthg - row.ftag)
        delta = p.k * g * (w - we)
        self.ratings[row.home] = r_h + delta
        self.ratings[row.away] = r_a - delta
        self.hfa[row.div] = hfa + p.hfa_k * g * (w - we)
        self.last_in_league[(row.home, row.div)] = np.array([r_h + delta])
        self.last_in_league[(row.away, row.div)] = np.array([r_a - delta])

    def state(self) -> dict[str, object]:
        return {
            "params": asdict(self.params),
            "ratings": dict(self.ratings),
            "home_advantage": dict(self.hfa),
            "season": dict(self.season_of),
        }


def elo_ratings(matches: pd.DataFrame, params: EloParams | None = None) -> RatingResult:
    """Pre-match Elo for every match (aligned to ``matches.index``) and the final state.

    Columns: ``elo_home``, ``elo_away`` (ratings before kick-off), ``elo_hfa`` (league home advantage
    before kick-off) and ``elo_exp_home`` (expected home score). ``state`` holds the ratings after the
    last match, the league home advantages and the params.
    """
    params = params or EloParams()
    frame = prepare_matches(matches)
    rater = EloRater(params, season_team_sets(frame))
    pre = pd.DataFrame(run_daily(frame, [rater]), index=frame.index).reindex(matches.index)
    return RatingResult(pre=pre, state=rater.state())

