"""Match-outcome models: training + MLflow registration (``trained_model``) and the promotion gate."""

from __future__ import annotations

import dagster as dg

from .assets import production_model, trained_model

defs = dg.Definitions(assets=[trained_model, production_model])

__all__ = ["defs", "production_model", "trained_model"]
