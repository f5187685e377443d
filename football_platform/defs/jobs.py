"""Jobs the command line and the schedules share.

``ingest_job`` materialises ``raw_matches`` for a range of season partitions in one
run (its blocking checks included); ``downstream_job`` is everything after it.
"""

from __future__ import annotations

import dagster as dg

from football_platform.defs.ingestion.assets import SEASON_PARTITIONS

RAW_MATCHES = dg.AssetKey("raw_matches")

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.keys(RAW_MATCHES),
    partitions_def=SEASON_PARTITIONS,
    description="Season files into raw.matches / raw.odds, with the Great Expectations checks.",
)

downstream_job = dg.define_asset_job(
    name="downstream_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.keys(RAW_MATCHES),
    description="Everything downstream of the season files: fixtures, dbt, features, training, promotion, predictions.",
)

defs = dg.Definitions(jobs=[ingest_job, downstream_job])
