"""Common interface of the match models and small helpers."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from football_platform.lib.metrics import outcome_index
from football_platform.lib.seasons import season_start_year


@runtime_checkable
class MatchModel(Protocol):
    """``fit(train)`` on a feature frame with results; ``predict_proba(frame)`` -> (n, 3) H, D, A."""

    name: str
    refit: str  # how often a walk-forward refits it: 'month' | 'season'

    def fit(self, train: pd.DataFrame) -> MatchModel: ...

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray: ...


def outcomes_of(frame: pd.DataFrame) -> np.ndarray:
    """Class index of each row's result (needs ``fthg`` and ``ftag``)."""
    missing = [c for c in ("fthg", "ftag") if c not in frame.columns]
    if missing:
        raise ValueError(f"training frame needs the result columns {missing} (full-time goals)")
    return outcome_index(frame["fthg"].to_numpy(), frame["ftag"].to_numpy())


def season_years(frame: pd.DataFrame) -> np.ndarray:
    """Start year of each row's season code."""
    codes = frame["season"].astype(str).to_numpy()
    cache = {c: season_start_year(c) for c in set(codes)}
    return np.fromiter((cache[c] for c in codes), dtype=int, count=len(codes))


def training_rows(frame: pd.DataFrame, min_season: str | None, last_seasons: int | None) -> pd.DataFrame:
    """Rows from ``min_season`` on, and only the ``last_seasons`` most recent seasons if given."""
    years = season_years(frame)
    keep = np.ones(len(frame), dtype=bool)
    if min_season is not None:
        keep &= years >= season_start_year(min_season)
    if last_seasons is not None and len(frame):
        keep &= years > years.max() - last_seasons
    return frame.loc[keep]


def normalise(probs: np.ndarray) -> np.ndarray:
    """Clip to [1e-6, 1] and renormalise rows to sum to one."""
    p = np.clip(np.asarray(probs, dtype=float), 1e-6, 1.0)
    return p / p.sum(axis=1, keepdims=True)
