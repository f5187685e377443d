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
BASELINE_COLUMNS = {
    "dc": ["match_dc_p_home", "match_dc_p_draw", "match_dc_p_away"],
    "market": ["match_market_p_home", "match_market_p_draw", "match_market_p_away"],
}


def baseline_columns(source: str) -> list[str]:
    """Columns a baseline is computed from: its own three, then the fallback's (market -> Dixon-Coles)."""
    if source not in BASELINE_COLUMNS:
        raise ValueError(f"unknown baseline {source!r}; use 'dc', 'market' or None")
    return BASELINE_COLUMNS[source] + (BASELINE_COLUMNS["dc"] if source == "market" else [])


def offset_logits(values: np.ndarray, source: str) -> np.ndarray:
    """``log p`` per row from the :func:`baseline_columns` values (n, 3 or 6); rows without odds use the fallback."""
    p = values[:, :3]
    if values.shape[1] > 3:
        p = np.where(np.isnan(p).any(axis=1, keepdims=True), values[:, 3:6], p)
    if np.isnan(p).any():
        raise ValueError(f"baseline {source!r}: probabilities {baseline_columns(source)} missing for "
                         f"{int(np.isnan(p).any(axis=1).sum())} row(s)")
    return np.log(normalise(p))


def baseline_logits(frame: pd.DataFrame, source: str | None) -> np.ndarray | None:
    """Starting scores of the boosting, ``log p`` of a simple model (``None``: start from zero).

    ``'market'`` uses the de-margined pre-match odds and falls back on Dixon-Coles where a match has
    no usable odds; ``'dc'`` uses Dixon-Coles. Trees then learn corrections to a calibrated forecast
    instead of rebuilding a smooth function of one probability from scratch.
    """
    if source is None:
        return None
    return offset_logits(frame[baseline_columns(source)].to_numpy(dtype=float), source)


class OffsetCatBoost:
    """A native ``CatBoostClassifier`` predicting as it was trained: ``softmax(raw trees + log p_baseline)``.

    CatBoost's own ``predict_proba`` ignores a training baseline, so a model boosted from one must be
    served through this wrapper. The baseline comes from the row's own columns (they are features of
    the model), so the wrapper is a drop-in for the native classifier wherever rows are given in
    ``feature_names_`` order: ``feature_names_``, ``classes_``, ``predict_proba(rows, thread_count=...)``
    for a DataFrame, a 2-D numpy array or a list of rows. One row costs one native call plus a few
    numpy operations (no pandas). ``baseline=None`` gives plain ``softmax(raw)``.
    """

    def __init__(self, model: Any, baseline: str | None):
        self.model = model
        self.baseline = baseline
        self.feature_names_ = list(model.feature_names_)
        self.classes_ = list(model.classes_)
        self._columns: list[str] = []
        self._positions: list[int] = []
        if baseline is not None:
            self._columns = baseline_columns(baseline)
            missing = [c for c in self._columns if c not in self.feature_names_]
            if missing:
                raise ValueError(f"baseline {baseline!r} needs the model's features to include {missing}")
            if [str(c) for c in self.classes_] != ["0", "1", "2"]:
                raise ValueError(f"baseline {baseline!r} is in H, D, A order: classes must be 0, 1, 2, "
                                 f"not {self.classes_}")
            self._positions = [self.feature_names_.index(c) for c in self._columns]

    def baseline_values(self, rows: Any) -> np.ndarray:
        """The :func:`baseline_columns` of every row, as floats."""
        if isinstance(rows, pd.DataFrame):
            return rows[self._columns].to_numpy(dtype=float)
        if isinstance(rows, np.ndarray):
            if rows.ndim != 2:
                raise ValueError(f"rows must be 2-D (one row per match), got shape {rows.shape}")
            return rows[:, self._positions].astype(float)
        return np.array([[row[i] for i in self._positions] for row in rows], dtype=float)

    def raw_scores(self, rows: Any, thread_count: int = -1) -> np.ndarray:
        """Sum of the trees per class, without any baseline (n, 3)."""
        raw = np.asarray(self.model.predict(rows, prediction_type="RawFormulaVal", thread_count=thread_count),
                         dtype=float)
        if raw.ndim != 2:
            raise ValueError("rows must be 2-D (a list of rows, one per match), not a single flat row")
        return raw

    def predict_proba(self, rows: Any, thread_count: int = -1) -> np.ndarray:
        z = self.raw_scores(rows, thread_count)
        if self.baseline is not None:
            z = z + offset_logits(self.baseline_values(rows), self.baseline)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


@dataclass
class CatBoostModel:
    """Gradient-boosted trees, MultiClass loss; class order 0/1/2 = H/D/A.

    Defaults were chosen by nested walk-forward (test seasons 2012/13-2016/17, six leagues, one refit
    per season on all earlier seasons; ``benchmarks/model_quality.py --tune``). Fundamentals, mean RPS:
    depth 4 / 300 it / lr 0.05: 0.20191; 4 / 600 / 0.03: 0.20182; 6 / 400 / 0.03: 0.20192; 4 / 300 /
    0.05 on the last 12 seasons: 0.20192; with an 8-season half-life weight: 0.20192. All within
    0.0001 (noise is ~0.001), so the cheapest, last 12 seasons at 4 / 300 / 0.05, is the default
    (a quarter of the cost of 600 iterations on 25 seasons). Market-aware: without a baseline 0.19975
    (600 it) / 0.20002 (300 it); boosting from the market (``baseline='market'``, see
    :func:`baseline_logits`) 0.19881 (300 it) / 0.19872 (150 it) -- the pre-match market alone scores
    0.19865 there, so the trees find nothing the market has not priced; 150 iterations is used.
    Fundamentals boosted from Dixon-Coles (``baseline='dc'``; ``--tune-fundamentals``): 0.20193 (300 it)
    / 0.20207 (150 it) against 0.20192 without, Dixon-Coles alone 0.20329: no gain, so no baseline there.

    ``thread_count`` should be 1 per API worker and at most the cores available in training. With a
    baseline, CatBoost's native ``predict_proba`` is wrong (it ignores the baseline): predictions go
    through :class:`OffsetCatBoost` (``predictor_``), here and wherever the registered model is loaded
    (:func:`football_platform.lib.registry.load_model_version`).
    """

    feature_set: str = "fundamentals"
    depth: int = 4
    iterations: int = 300
    learning_rate: float = 0.05
    l2_leaf_reg: float = 10.0
    thread_count: int = 2
    random_seed: int = 0
    border_count: int = 64
    min_season: str | None = "9596"
    last_seasons: int | None = 12
    half_life_seasons: float | None = None
    min_rows: int = 200
    baseline: str | None = None
    refit: str = "season"
    name: str = ""
    model_: Any = field(default=None, repr=False)
    predictor_: OffsetCatBoost | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.feature_set not in FEATURE_SETS:
            raise ValueError(f"unknown feature_set {self.feature_set!r}; choose from {sorted(FEATURE_SETS)}")
        if self.baseline is not None:
            # the baseline must be computable from the model's own inputs, or serving could not add it
            missing = [c for c in baseline_columns(self.baseline) if c not in FEATURE_SETS[self.feature_set]]
            if missing:
                raise ValueError(f"baseline {self.baseline!r} needs {missing}, which the {self.feature_set} "
                                 "feature set lacks")
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
        from catboost import CatBoostClassifier, Pool  # heavy import only when a model is trained

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
            one_hot_max_size=16,  # six leagues: one-hot is exact and far cheaper than target statistics
            border_count=self.border_count,
            verbose=False,
            allow_writing_files=False,
        )
        pool = Pool(self._pool_frame(rows), y, cat_features=CATEGORICAL, weight=weights,
                    baseline=baseline_logits(rows, self.baseline))
        model.fit(pool)
        self.model_ = model
        self.predictor_ = OffsetCatBoost(model, self.baseline)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.model_ is None or self.predictor_ is None:
            raise RuntimeError(f"{self.name}: fit() first")
        classes = [int(c) for c in self.model_.classes_]
        if classes != [0, 1, 2]:
            raise RuntimeError(f"{self.name}: trained on classes {classes}; needs all of H, D, A in training")
        # the code path the API and batch predictions use (trees + the row's own baseline)
        return self.predictor_.predict_proba(self._pool_frame(frame), thread_count=self.thread_count)
