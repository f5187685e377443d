"""The season partitions of ``raw_matches`` (and of the jobs and schedules that target it)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from football_platform.lib.seasons import partition_seasons


def season_partitions(today: dt.date | None = None) -> dg.StaticPartitionsDefinition:
    """1993/94 up to the season after the one in play on ``today`` (default: the wall clock's date, read when the
    definitions are built): a code location loaded before 1 July rolls over without a reload."""
    return dg.StaticPartitionsDefinition(partition_seasons(today))
