"""Baselines that need (almost) no fitting: base rates, the betting market, Dixon-Coles probabilities."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from football_platform.lib.models.base import normalise, outcomes_of, training_rows

MARKET_PROB_COLUMNS = ["match_market_p_home", "match_market_p_draw", "match_market_p_away"]
DC_PROB_COLUMNS = ["match_dc_p_home", "match_dc_p_draw", "match_dc_p_away"]


@dataclass
class BaseRateModel:
    """Frequency of H/D/A per league over the last ``last_seasons`` seasons of the training data."""

    last_seasons: int = 5
    name: str = "base_rates"
    refit: str = "season"
    rates_: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    overall_: np.ndarray | None = field(default=None, repr=False)

    def fit(self, train: pd.DataFrame) -> BaseRateModel:
        rows = training_rows(train, None, self.last_seasons)
        if rows.empty:
            raise ValueError("BaseRateModel.fit: no training rows")
        y = outcomes_of(rows)
        self.overall_ = np.bincount(y, minlength=3) / len(y)
        self.rates_ = {}
        for div, idx in rows.groupby("div").indices.items():
            self.rates_[str(div)] = np.bincount(y[idx], minlength=3) / len(idx)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.overall_ is None:
            raise RuntimeError("BaseRateModel: fit() first")
        return normalise(np.vstack([self.rates_.get(str(d), self.overall_) for d in frame["div"]]))


@dataclass
class MarketModel:
    """Pre-match odds with the margin removed (``match_market_p_*``); base rates where no odds exist."""

    name: str = "market_pre"
    refit: str = "season"
    fallback_: BaseRateModel | None = field(default=None, repr=False)

    def fit(self, train: pd.DataFrame) -> MarketModel:
        self.fallback_ = BaseRateModel().fit(train)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = frame[MARKET_PROB_COLUMNS].to_numpy(dtype=float)
        missing = np.isnan(p).any(axis=1)
        if missing.any():
            if self.fallback_ is None:
                raise RuntimeError("MarketModel: rows without odds need fit() for the base-rate fallback")
            p[missing] = self.fallback_.predict_proba(frame.loc[missing])
        return normalise(p)


@dataclass
class DixonColesModel:
    """Dixon-Coles outcome probabilities (the weekly refits happen in the feature engine)."""

    name: str = "dixon_coles"
    refit: str = "season"

    def fit(self, train: pd.DataFrame) -> DixonColesModel:
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = frame[DC_PROB_COLUMNS].to_numpy(dtype=float)
        if np.isnan(p).any():
            raise ValueError("DixonColesModel: match_dc_p_* contains NaN")
        return normalise(p)
