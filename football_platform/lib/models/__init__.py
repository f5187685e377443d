"""Match outcome models with one interface: ``fit(train_frame)`` / ``predict_proba(frame) -> (n, 3)`` in H, D, A order.

Frames are the output of :func:`football_platform.lib.features.build_match_features`; training frames
also carry the results ``fthg``/``ftag``. Calibration and ensembles (:mod:`.combine`) are fitted on
out-of-sample predictions only, which the walk-forward backtest provides.
"""

from __future__ import annotations

from typing import Any

from football_platform.lib.models.base import MatchModel, outcomes_of
from football_platform.lib.models.boosting import FEATURE_SETS, CatBoostModel, OffsetCatBoost
from football_platform.lib.models.combine import LinearPool, TemperatureCalibrator
from football_platform.lib.models.ordered_logit import OrderedLogitModel, ordered_logit_probs
from football_platform.lib.models.simple import BaseRateModel, DixonColesModel, MarketModel


def make_model(name: str, **kwargs: Any) -> MatchModel:
    """Build a model by its registry name.

    ``base_rates``, ``market_pre``, ``elo_ol``, ``pi_ol``, ``dixon_coles``, ``catboost_fundamentals``,
    ``catboost_market_aware``; ``kwargs`` go to the model (e.g. ``thread_count=1``).
    """
    if name == "base_rates":
        return BaseRateModel(**kwargs)
    if name == "market_pre":
        return MarketModel(**kwargs)
    if name == "elo_ol":
        return OrderedLogitModel(feature="match_elo_diff", name="elo_ol", **kwargs)
    if name == "pi_ol":
        return OrderedLogitModel(feature="match_pi_exp_gd", name="pi_ol", **kwargs)
    if name == "dixon_coles":
        return DixonColesModel(**kwargs)
    if name == "catboost_fundamentals":
        return CatBoostModel(feature_set="fundamentals", **kwargs)
    if name == "catboost_market_aware":
        # tuned: boost from the de-margined odds, few trees (see CatBoostModel's docstring)
        kwargs = {"baseline": "market", "iterations": 150, **kwargs}
        return CatBoostModel(feature_set="market_aware", **kwargs)
    raise ValueError(f"unknown model {name!r}; known: {MODEL_NAMES}")


MODEL_NAMES = (
    "base_rates", "market_pre", "elo_ol", "pi_ol", "dixon_coles", "catboost_fundamentals", "catboost_market_aware",
)

__all__ = [
    "FEATURE_SETS", "MODEL_NAMES", "BaseRateModel", "CatBoostModel", "DixonColesModel", "LinearPool", "MarketModel",
    "MatchModel", "OffsetCatBoost", "OrderedLogitModel", "TemperatureCalibrator", "make_model", "ordered_logit_probs",
    "outcomes_of",
]
