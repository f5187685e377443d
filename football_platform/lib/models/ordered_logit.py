"""Ordered logit of the result (A < D < H) on one rating difference."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit

from football_platform.lib.models.base import normalise, outcomes_of, training_rows


def ordered_logit_probs(x: np.ndarray, beta: float, cut_low: float, cut_high: float) -> np.ndarray:
    """P(A) = s(c1 - b x), P(A or D) = s(c2 - b x); returns (n, 3) in H, D, A order."""
    le_a = expit(cut_low - beta * x)
    le_d = expit(cut_high - beta * x)
    return np.column_stack([1.0 - le_d, le_d - le_a, le_a])


@dataclass
class OrderedLogitModel:
    """Latent ``y* = beta x + e`` (logistic e), away win below ``c1``, draw up to ``c2``, home win above.

    ``feature`` is one pre-match column, e.g. ``match_elo_diff`` (Elo difference including the league's
    current home advantage) or ``match_pi_exp_gd`` (pi-ratings expected goal difference). Rows from
    ``min_season`` on skip the ratings' burn-in.
    """

    feature: str = "match_elo_diff"
    name: str = "elo_ol"
    min_season: str | None = "9596"
    last_seasons: int | None = None
    refit: str = "month"
    params_: tuple[float, float, float] | None = field(default=None, repr=False)
    scale_: tuple[float, float] = field(default=(0.0, 1.0), repr=False)

    def fit(self, train: pd.DataFrame) -> OrderedLogitModel:
        rows = training_rows(train, self.min_season, self.last_seasons)
        rows = rows[rows[self.feature].notna()]
        if len(rows) < 50:
            raise ValueError(f"OrderedLogitModel({self.feature}): only {len(rows)} training rows")
        y = outcomes_of(rows)
        raw = rows[self.feature].to_numpy(dtype=float)
        mean, sd = float(raw.mean()), float(raw.std()) or 1.0
        x = (raw - mean) / sd  # standardised for conditioning
        is_d, is_a = y == 1, y == 2

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            beta, c1, log_gap = theta
            gap = np.exp(log_gap)
            c2 = c1 + gap
            s1 = expit(c1 - beta * x)
            s2 = expit(c2 - beta * x)
            p = np.where(is_a, s1, np.where(is_d, s2 - s1, 1.0 - s2))
            p = np.maximum(p, 1e-12)
            ds1 = s1 * (1 - s1)
            ds2 = s2 * (1 - s2)
            # d p / d c1, d p / d c2 per outcome; d/d beta = -x (d/dc1 + d/dc2)
            dp_c1 = np.where(is_a, ds1, np.where(is_d, -ds1, 0.0))
            dp_c2 = np.where(is_a, 0.0, np.where(is_d, ds2, -ds2))
            g_c1 = -(dp_c1 / p).sum()
            g_c2 = -(dp_c2 / p).sum()
            g_beta = ((dp_c1 + dp_c2) * x / p).sum()
            grad = np.array([g_beta, g_c1 + g_c2, g_c2 * gap])
            return float(-np.log(p).sum()), grad

        res = optimize.minimize(nll, np.array([0.5, -1.0, 0.0]), jac=True, method="BFGS")
        beta, c1, log_gap = res.x
        self.params_ = (float(beta), float(c1), float(c1 + np.exp(log_gap)))
        self.scale_ = (mean, sd)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.params_ is None:
            raise RuntimeError(f"OrderedLogitModel({self.feature}): fit() first")
        raw = frame[self.feature].to_numpy(dtype=float)
        if np.isnan(raw).any():
            raise ValueError(f"OrderedLogitModel: column {self.feature!r} has missing values")
        x = (raw - self.scale_[0]) / self.scale_[1]
        return normalise(ordered_logit_probs(x, *self.params_))
