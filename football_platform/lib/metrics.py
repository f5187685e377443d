"""Scoring rules for 1X2 probability forecasts (pure numpy).

Conventions used everywhere in the project:

* probabilities are an ``(n, 3)`` array in **H, D, A** order (home win, draw, away win);
* outcomes are integer class indices ``0 = H``, ``1 = D``, ``2 = A`` (see :func:`outcome_index`).

RPS is the ranked probability score of Epstein (1969) with the outcome order H < D < A, divided by
``r - 1 = 2`` so that it lies in [0, 1]; log loss is in nats; Brier is the multiclass sum over the
three classes (range [0, 2]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

OUTCOMES = ("H", "D", "A")
_EPS = 1e-15


def outcome_index(fthg: np.ndarray, ftag: np.ndarray) -> np.ndarray:
    """Full-time goals -> class index (0 home win, 1 draw, 2 away win)."""
    hg = np.asarray(fthg, dtype=float)
    ag = np.asarray(ftag, dtype=float)
    if np.isnan(hg).any() or np.isnan(ag).any():
        raise ValueError("outcome_index: full-time goals contain missing values")
    return np.where(hg > ag, 0, np.where(hg == ag, 1, 2)).astype(int)


def _check(probs: np.ndarray, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=float)
    y = np.asarray(outcomes)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"probabilities must have shape (n, 3) in H,D,A order, got {p.shape}")
    if y.shape != (p.shape[0],):
        raise ValueError(f"outcomes must have shape ({p.shape[0]},), got {y.shape}")
    if np.isnan(p).any():
        raise ValueError("probabilities contain NaN")
    if not np.isin(y, (0, 1, 2)).all():
        raise ValueError("outcomes must be class indices 0 (H), 1 (D), 2 (A)")
    return p, y.astype(int)


def _one_hot(y: np.ndarray) -> np.ndarray:
    out = np.zeros((y.shape[0], 3))
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def rps_scores(probs: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Per-match RPS: sum over the first r-1 cumulative errors, divided by r-1 = 2."""
    p, y = _check(probs, outcomes)
    cum_p = np.cumsum(p, axis=1)[:, :2]
    cum_o = np.cumsum(_one_hot(y), axis=1)[:, :2]
    return ((cum_p - cum_o) ** 2).sum(axis=1) / 2.0


def log_loss_scores(probs: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Per-match negative log-likelihood of the observed outcome (nats), clipped at 1e-15."""
    p, y = _check(probs, outcomes)
    return -np.log(np.clip(p[np.arange(y.shape[0]), y], _EPS, 1.0))


def brier_scores(probs: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Per-match multiclass Brier score: sum over the three classes of (p - o)^2."""
    p, y = _check(probs, outcomes)
    return ((p - _one_hot(y)) ** 2).sum(axis=1)


def rps(probs: np.ndarray, outcomes: np.ndarray) -> float:
    """Mean RPS."""
    return float(rps_scores(probs, outcomes).mean())


def log_loss(probs: np.ndarray, outcomes: np.ndarray) -> float:
    """Mean log loss (nats)."""
    return float(log_loss_scores(probs, outcomes).mean())


def brier(probs: np.ndarray, outcomes: np.ndarray) -> float:
    """Mean multiclass Brier score."""
    return float(brier_scores(probs, outcomes).mean())


def accuracy(probs: np.ndarray, outcomes: np.ndarray) -> float:
    """Share of matches whose most probable class (first one on ties) happened."""
    p, y = _check(probs, outcomes)
    return float((p.argmax(axis=1) == y).mean())


def ece_per_outcome(probs: np.ndarray, outcomes: np.ndarray, n_bins: int = 10) -> dict[str, float]:
    """Expected calibration error of each outcome's probability, ``n_bins`` equal-width bins on [0, 1].

    ECE_k = sum over bins b of (n_b / n) * |mean p_k in b - observed frequency of k in b|.
    A probability of exactly 1.0 falls in the last bin.
    """
    p, y = _check(probs, outcomes)
    n = p.shape[0]
    result: dict[str, float] = {}
    for k, name in enumerate(OUTCOMES):
        pk = p[:, k]
        hit = (y == k).astype(float)
        bins = np.minimum((pk * n_bins).astype(int), n_bins - 1)
        sum_p = np.bincount(bins, weights=pk, minlength=n_bins)
        sum_o = np.bincount(bins, weights=hit, minlength=n_bins)
        result[name] = float(np.abs(sum_p - sum_o).sum() / n)  # n_b/n * |mean_p - mean_o| = |sum_p - sum_o|/n
    return result


def calibration_slope(probs: np.ndarray, outcomes: np.ndarray) -> dict[str, float]:
    """Per outcome, slope b of the logistic regression ``P(y == k) = sigmoid(a + b * logit(p_k))``.

    1.0 means well calibrated spread; < 1 over-confident, > 1 under-confident.
    """
    p, y = _check(probs, outcomes)
    result: dict[str, float] = {}
    for k, name in enumerate(OUTCOMES):
        pk = np.clip(p[:, k], 1e-6, 1 - 1e-6)
        x = np.log(pk / (1 - pk))
        t = (y == k).astype(float)

        def nll(theta: np.ndarray, x: np.ndarray = x, t: np.ndarray = t) -> tuple[float, np.ndarray]:
            z = theta[0] + theta[1] * x
            # log(1 + e^z) - t z, stable form
            loss = np.logaddexp(0.0, z) - t * z
            s = 1.0 / (1.0 + np.exp(-z)) - t
            return float(loss.sum()), np.array([s.sum(), (s * x).sum()])

        res = optimize.minimize(nll, np.array([0.0, 1.0]), jac=True, method="BFGS")
        result[name] = float(res.x[1])
    return result


@dataclass(frozen=True)
class BootstrapDiff:
    """Mean of ``a - b`` over paired matches and its percentile bootstrap interval."""

    mean: float
    low: float
    high: float
    n: int


def paired_bootstrap_diff(
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapDiff:
    """Paired bootstrap CI for mean(scores_a) - mean(scores_b) on the same matches.

    Resampling matches (not models) keeps the pairing, which removes the large between-season
    variance that makes unpaired comparisons meaningless.
    """
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be 1-d arrays of equal length, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("paired_bootstrap_diff needs at least one match")
    d = a - b
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    # chunks keep memory bounded for large n
    chunk = max(1, 2_000_000 // max(d.size, 1))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, d.size, size=(stop - start, d.size))
        means[start:stop] = d[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return BootstrapDiff(
        mean=float(d.mean()),
        low=float(np.quantile(means, alpha)),
        high=float(np.quantile(means, 1 - alpha)),
        n=int(d.size),
    )


def evaluate(probs: np.ndarray, outcomes: np.ndarray) -> dict[str, float]:
    """All headline metrics in one dict: rps, log_loss, brier, accuracy, ece_H/D/A, ece (mean of the three)."""
    ece = ece_per_outcome(probs, outcomes)
    return {
        "n": float(len(outcomes)),
        "rps": rps(probs, outcomes),
        "log_loss": log_loss(probs, outcomes),
        "brier": brier(probs, outcomes),
        "accuracy": accuracy(probs, outcomes),
        "ece_H": ece["H"],
        "ece_D": ece["D"],
        "ece_A": ece["A"],
        "ece": float(np.mean(list(ece.values()))),
    }
