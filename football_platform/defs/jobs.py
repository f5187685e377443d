"""Jobs of the command line (``football-platform ingest|run|backtest``, through :mod:`football_platform.runs.inprocess`).

``ingest_job`` materialises ``raw_matches`` for a range of season partitions in one run (its blocking checks
included); ``downstream_job`` is everything after it. The schedules and sensors launch their own jobs
(:mod:`football_platform.defs.automation.jobs`). ``ingest_job`` takes its partitions from the asset it selects.
"""

from __future__ import annotations

import dagster as dg

from football_platform.contracts import WAREHOUSE_WRITER_TAGS
from football_platform.defs.common.keys import RAW_MATCHES

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.assets(RAW_MATCHES),
    description="Season files into raw.matches / raw.odds, with the Great Expectations checks.",
    tags=WAREHOUSE_WRITER_TAGS,
)

downstream_job = dg.define_asset_job(
    name="downstream_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(RAW_MATCHES),
    description="Everything downstream of the season files: fixtures, dbt, features, training, promotion, predictions.",
    tags=WAREHOUSE_WRITER_TAGS,
)

defs = dg.Definitions(jobs=[ingest_job, downstream_job])
