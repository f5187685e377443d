"""Serving domain: batch predictions for upcoming fixtures and their settled score.

Needs the ``warehouse`` resource and ``serving`` (see :func:`serving_resources`).
"""

import dagster as dg

from football_platform.defs.serving.assets import batch_predictions, prediction_performance
from football_platform.defs.serving.resources import ServingResource, serving_resources

defs = dg.Definitions(assets=[batch_predictions, prediction_performance])

__all__ = ["ServingResource", "defs", "serving_resources"]
