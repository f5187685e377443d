"""The one place that assembles the code location's Definitions.

Every domain under ``defs/`` is named here, explicitly (nothing is discovered): each exposes ``defs`` (ingestion
builds its own when asked, so its season partitions are those of the day the definitions are built). Automation
is built from that list, and resources for the active profile come from
:func:`football_platform.resources.build_resources`.
"""

from __future__ import annotations

import dagster as dg

from football_platform.defs import automation, features, ingestion, jobs, ml, quality, serving, transform
from football_platform.resources import build_resources
from football_platform.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    domains = [
        ingestion.build_defs(),
        quality.defs,
        transform.defs,
        features.defs,
        ml.defs,
        serving.defs,
        jobs.defs,
    ]
    return dg.Definitions.merge(*automation.with_automation(domains, settings),
                                dg.Definitions(resources=build_resources(settings)))


defs = build_definitions()
