"""Serving domain: batch predictions for upcoming fixtures and their settled score.

Needs the ``warehouse`` and ``serving`` resources (:mod:`football_platform.resources`).
"""

import dagster as dg

from football_platform.defs.serving.assets import batch_predictions, prediction_performance

defs = dg.Definitions(assets=[batch_predictions, prediction_performance])

__all__ = ["defs"]
