"""Figures logged with model runs (matplotlib's Agg backend: no display, safe in workers)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

OUTCOME_NAMES = ("home win", "draw", "away win")


def reliability_curve(p: np.ndarray, hit: np.ndarray, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean forecast, observed frequency and count per non-empty equal-width bin on [0, 1]."""
    bins = np.minimum((np.asarray(p) * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    sum_p = np.bincount(bins, weights=p, minlength=n_bins)
    sum_o = np.bincount(bins, weights=hit.astype(float), minlength=n_bins)
    keep = counts > 0
    return sum_p[keep] / counts[keep], sum_o[keep] / counts[keep], counts[keep]


def reliability_diagram(
    probs: Mapping[str, np.ndarray], outcomes: np.ndarray, path: Path | str, title: str = "", n_bins: int = 10
) -> Path:
    """One panel per outcome (H, D, A); one line per forecaster in ``probs`` (name -> (n, 3)). Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.asarray(outcomes)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True)
    for k, ax in enumerate(axes):
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        for name, p in probs.items():
            p = np.asarray(p, dtype=float)
            ok = ~np.isnan(p).any(axis=1)
            if not ok.any():
                continue
            mean_p, freq, _ = reliability_curve(p[ok, k], y[ok] == k, n_bins)
            ax.plot(mean_p, freq, marker="o", markersize=4, label=f"{name} (n={int(ok.sum())})")
        ax.set_title(OUTCOME_NAMES[k])
        ax.set_xlabel("forecast probability")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("observed frequency")
    axes[0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
