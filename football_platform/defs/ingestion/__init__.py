"""Ingestion domain: season files and fixtures into the raw schema."""

import datetime as dt

import dagster as dg

from football_platform.defs.common.partitions import season_partitions
from football_platform.defs.ingestion.assets import build_raw_matches, raw_fixtures


def build_defs(today: dt.date | None = None) -> dg.Definitions:
    """The ingestion assets, ``raw_matches`` partitioned up to the season after the one in play on ``today``
    (default: the day the definitions are built): a code location loaded before 1 July rolls over without a
    reload."""
    return dg.Definitions(assets=[build_raw_matches(season_partitions(today)), raw_fixtures])
