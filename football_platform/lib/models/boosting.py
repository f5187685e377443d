"""CatBoost multiclass on the pre-match features (``fundamentals`` or ``market_aware``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from football_platform.lib.features import FUNDAMENTAL_FEATURES, MARKET_AWARE_FEATURES
from football_platform.lib.models.base import normalise, outcomes_of, season_years, training_rows

FEATURE_SETS: dict[str, list[str]] = {"fundamentals": FUNDAMENTAL_FEATURES, "market_aware": MARKET_AWARE_FEATURES}
CATEGORICAL = ["div"]


@dataclass
class CatBoostModel:
    """Gradient-boosted trees, MultiClass loss; class order 0/1/2 = H/D/A.

    Defaults (depth, iterations, learning rate) chosen by nested walk-forward on 2012/13-2016/17, see
    ``benchmarks/model_quality.py --tune``. ``half_life_seasons`` down-weights old seasons (the game
    changes: fewer draws, smaller home edge). ``thread_count`` should be 1 per API worker and at most
    the cores available in training.
    """

    feature_set: str = "fundamentals"
    depth: int = 6
    iterations: int = 500
    learning_rate: float = 0.03
    l2_leaf_reg: float = 10.0
    thread_count: int = 2
    random_seed: int = 0
    border_count: int = 64
    min_season: str | None = "9596"
    last_seasons: int | None = None
    half_life_seasons: float | None = None
    min_rows: int = 200
    refit: str = "season"
    name: str = ""
    model_: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.feature_set not in FEATURE_SETS:
            raise ValueError(f"unknown feature_set {self.feature_set!r}; choose from {sorted(FEATURE_SETS)}")
        if not self.name:
            self.name = f"catboost_{self.feature_set}"

    @property
    def features(self) -> list[str]:
        return FEATURE_SETS[self.feature_set]

    def _pool_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"{self.name}: feature frame lacks {missing[:5]}{'...' if len(missing) > 5 else ''}")
        x = frame[self.features].copy()
        x["div"] = x["div"].astype(str)
        return x

    def fit(self, train: pd.DataFrame) -> CatBoostModel:
        from catboost import CatBoostClassifier  # heavy import only when a model is trained

        rows = training_rows(train, self.min_season, self.last_seasons)
        if len(rows) < self.min_rows:
            raise ValueError(f"{self.name}: only {len(rows)} training rows")
        y = outcomes_of(rows)
        weights = None
        if self.half_life_seasons:
            years = season_years(rows)
            weights = 0.5 ** ((years.max() - years) / self.half_life_seasons)
        model = CatBoostClassifier(
            loss_function="MultiClass",
            depth=self.depth,
            iterations=self.iterations,
            learning_rate=self.learning_rate,
            l2_leaf_reg=self.l2_leaf_reg,
            thread_count=self.thread_count,
            random_seed=self.random_seed,
            cat_features=CATEGORICAL,
            one_hot_max_size=16,  # six leagues: one-hot is exact and far cheaper than target statistics
            border_count=self.border_count,
            verbose=False,
            allow_writing_files=False,
        )
        model.fit(self._pool_frame(rows), y, sample_weight=weights)
        self.model_ = model
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.model_ is None:
            raise RuntimeError(f"{self.name}: fit() first")
        raw = self.model_.predict_proba(self._pool_frame(frame))
        classes = [int(c) for c in self.model_.classes_]
        out = np.zeros((len(frame), 3))
        for j, c in enumerate(classes):
            out[:, c] = raw[:, j]
        return normalise(out)
