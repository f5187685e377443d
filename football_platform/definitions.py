"""The one place that assembles the code location's Definitions.

Each domain under ``defs/`` exposes a ``defs`` object; resources for the active
profile come from :func:`football_platform.resources.build_resources`.
"""

from __future__ import annotations

import dagster as dg

from football_platform.defs import automation, features, ingestion, jobs, ml, quality, serving, transform
from football_platform.resources import build_resources
from football_platform.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    domains = automation.with_automation([ingestion.defs, quality.defs, transform.defs, features.defs, ml.defs, serving.defs, jobs.defs], settings)
    return dg.Definitions.merge(*domains, dg.Definitions(resources=build_resources(settings)))


defs = build_definitions()
