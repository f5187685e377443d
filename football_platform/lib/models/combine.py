"""Post-hoc layers fitted only on out-of-sample predictions: calibration and ensembles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize
from scipy.special import log_softmax, softmax

from football_platform.lib.metrics import rps_scores
from football_platform.lib.models.base import normalise


@dataclass
class TemperatureCalibrator:
    """Multinomial temperature with class offsets: ``p' = softmax(log p / T + b)``, ``b_H = 0``.

    Three parameters, fitted by log loss on out-of-sample predictions only; identity until fitted or
    when fewer than ``min_rows`` predictions are available.
    """

    min_rows: int = 500
    temperature_: float = 1.0
    offsets_: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def fit(self, probs: np.ndarray, outcomes: np.ndarray) -> TemperatureCalibrator:
        p = normalise(probs)
        y = np.asarray(outcomes, dtype=int)
        if len(y) < self.min_rows:
            self.temperature_, self.offsets_ = 1.0, np.zeros(3)
            return self
        logp = np.log(p)
        idx = np.arange(len(y))

        def nll(theta: np.ndarray) -> float:
            z = logp * np.exp(-theta[0]) + np.array([0.0, theta[1], theta[2]])
            return float(-log_softmax(z, axis=1)[idx, y].mean())

        res = optimize.minimize(nll, np.zeros(3), method="L-BFGS-B",
                                bounds=[(-1.0, 1.0), (-0.5, 0.5), (-0.5, 0.5)])
        self.temperature_ = float(np.exp(res.x[0]))
        self.offsets_ = np.array([0.0, res.x[1], res.x[2]])
        return self

    def transform(self, probs: np.ndarray) -> np.ndarray:
        logp = np.log(normalise(probs))
        return normalise(softmax(logp / self.temperature_ + self.offsets_, axis=1))


@dataclass
class LinearPool:
    """Weighted average of member models' probabilities (weights >= 0, sum 1).

    ``method='average'`` uses equal weights; ``'stack'`` learns weights minimising mean RPS on
    out-of-sample predictions (never on a model's own training data).
    """

    method: str = "stack"
    min_rows: int = 500
    weights_: np.ndarray | None = None

    def fit(self, member_probs: Sequence[np.ndarray], outcomes: np.ndarray) -> LinearPool:
        k = len(member_probs)
        if k == 0:
            raise ValueError("LinearPool needs at least one member")
        y = np.asarray(outcomes, dtype=int)
        if self.method == "average" or len(y) < self.min_rows:
            self.weights_ = np.full(k, 1.0 / k)
            return self
        if self.method != "stack":
            raise ValueError(f"unknown LinearPool method {self.method!r}; use 'average' or 'stack'")
        stack = np.stack([normalise(p) for p in member_probs])  # (k, n, 3)

        def loss(theta: np.ndarray) -> float:
            w = softmax(theta)
            return float(rps_scores(np.tensordot(w, stack, axes=1), y).mean())

        res = optimize.minimize(loss, np.zeros(k), method="L-BFGS-B")
        self.weights_ = softmax(res.x)
        return self

    def predict(self, member_probs: Sequence[np.ndarray]) -> np.ndarray:
        if self.weights_ is None:
            raise RuntimeError("LinearPool: fit() first")
        stack = np.stack([normalise(p) for p in member_probs])
        return normalise(np.tensordot(self.weights_, stack, axes=1))
