"""Team rating systems, each a pure function ``matches -> RatingResult(pre, state)``.

``pre`` holds, for every match, the values known before kick-off (aligned to the input's index);
``state`` is the final state for serving. The ``*Rater`` classes are the same systems in incremental
form, used by :mod:`football_platform.lib.features` to walk all matches once.
"""

from football_platform.lib.ratings._driver import RatingResult
from football_platform.lib.ratings.dixon_coles import (
    DixonColesFit,
    DixonColesParams,
    DixonColesRater,
    dixon_coles_ratings,
    fit_dixon_coles,
    outcome_probabilities,
    over_probability,
    score_matrix,
)
from football_platform.lib.ratings.elo import EloParams, EloRater, elo_ratings, expected_home_score, goal_multiplier
from football_platform.lib.ratings.pi import PiParams, PiRater, expected_goal_difference, pi_ratings, pi_update

__all__ = [
    "DixonColesFit", "DixonColesParams", "DixonColesRater", "EloParams", "EloRater", "PiParams", "PiRater",
    "RatingResult", "dixon_coles_ratings", "elo_ratings", "expected_goal_difference", "expected_home_score",
    "fit_dixon_coles", "goal_multiplier", "outcome_probabilities", "over_probability", "pi_ratings", "pi_update",
    "score_matrix",
]
