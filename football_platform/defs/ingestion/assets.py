"""Ingestion: football-data.co.uk season files and fixtures into the warehouse's ``raw`` schema.

Thin Dagster layer around :mod:`football_platform.lib.loading`: it picks the
files for the partitions being materialised, loads each in its own transaction
and reports what happened as metadata.
"""


import dagster as dg
import pandas as pd

from football_platform.contracts import WAREHOUSE_POOL
from football_platform.defs.common.metadata import table_preview
from football_platform.defs.common.partitions import season_partitions
from football_platform.lib.loading import IngestSummary, ingest_many, load_fixtures, outcome_table
from football_platform.lib.parsing import SourceFileRejected
from football_platform.lib.warmup import warm_imports
from football_platform.resources import FootballDataSourceResource, WarehouseResource

OWNERS = ["team:data-engineering"]
# Imported by the asset checks on raw_matches (lib/quality.py, ~5 s): started in the background by the ingestion
# steps before them in an in-process run (lib/warmup.py).
CHECKS_IMPORT = ("great_expectations",)


class IngestConfig(dg.Config):
    leagues: list[str] | None = None  # default: the source resource's leagues
    force: bool = False  # reload files even when their hash is unchanged


def summary_metadata(summary: IngestSummary) -> dict[str, dg.MetadataValue | int | str]:
    """Metadata every ingestion materialisation carries (and the CLI prints)."""
    totals = summary.as_json_dict()
    table = outcome_table(summary.outcomes)
    loaded = table[table["status"] == "loaded"] if not table.empty else table
    dates = [d for d in (loaded.get("date_min", pd.Series(dtype=str)).dropna().tolist())]
    dates_max = [d for d in (loaded.get("date_max", pd.Series(dtype=str)).dropna().tolist())]
    metadata: dict[str, dg.MetadataValue | int | str] = {
        **{f"{k}": v for k, v in totals.items()},
        "files_missing": sum(o.status == "missing" for o in summary.outcomes),
        "files_rejected": len(summary.failures),
        "rows_missing_from_source": sum(o.missing_from_source for o in summary.outcomes),
        "values_rejected": sum(o.values_rejected for o in summary.outcomes),
        "summary_json": dg.MetadataValue.json(totals),
    }
    if dates:
        metadata["date_min"] = min(dates)
        metadata["date_max"] = max(dates_max)
    if not table.empty:
        cols = ["name", "status", "rows", "inserted", "updated", "unchanged", "rejected", "sha256", "reason"]
        metadata["files"] = table_preview(table[cols].assign(sha256=table["sha256"].str[:12]), rows=50)
        metadata["file_hashes"] = dg.MetadataValue.json(
            {o.name: o.sha256 for o in summary.outcomes if o.sha256}
        )
    return metadata


def _raise_if_rejected(summary: IngestSummary) -> None:
    if summary.failures:
        reasons = "; ".join(o.reason or o.name for o in summary.failures)
        raise dg.Failure(
            description=f"{len(summary.failures)} file(s) rejected, warehouse unchanged for them: {reasons}",
            metadata=summary_metadata(summary),
        )


def build_raw_matches(partitions_def: dg.PartitionsDefinition | None = None) -> dg.AssetsDefinition:
    """The ``raw_matches`` asset over ``partitions_def`` (default: :func:`season_partitions` on the day it is built,
    i.e. when the definitions are built, never at import)."""

    @dg.asset(
        key="raw_matches",
        group_name="ingestion",
        owners=OWNERS,
        kinds={"python", "duckdb", "postgres"},
        partitions_def=partitions_def or season_partitions(),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        code_version="1",
        description=(
            "Match results, statistics and every bookmaker's odds from football-data.co.uk season files, upserted into "
            "`raw.matches` (one row per match) and `raw.odds` (long form: bookmaker × market × period × selection). "
            "Rows that fail validation go to `raw.rejected_rows` with file, line, column and reason; a bad file is "
            "rejected whole and leaves the warehouse as it was. Partitioned by season ('2324' = 2023/24)."
        ),
        metadata={"dagster/table_name": "raw.matches", "natural_key": "div, season, home_team, away_team"},
    )
    def raw_matches(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        warehouse: WarehouseResource,
        football_source: FootballDataSourceResource,
    ) -> dg.MaterializeResult:
        warm_imports(CHECKS_IMPORT)  # the Great Expectations suites run next, on what lands here
        leagues = config.leagues or football_source.leagues
        source = football_source.open()
        store = warehouse.get()
        summary = IngestSummary()
        files = [(season, div) for season in context.partition_keys for div in leagues]
        for outcome in ingest_many(store, source, files, force=config.force):
            summary.add(outcome)
            if outcome.status == "rejected":
                context.log.error(outcome.reason)
            elif outcome.missing_from_source:
                context.log.warning(
                    f"{outcome.name}: {outcome.missing_from_source} row(s) in the warehouse are no longer in the "
                    "source file; kept, not deleted"
                )
        context.log.info(f"ingested from {source.describe()}: {summary.as_json_dict()}")
        _raise_if_rejected(summary)
        return dg.MaterializeResult(metadata=summary_metadata(summary))

    return raw_matches


@dg.asset(
    key="raw_fixtures",
    group_name="ingestion",
    owners=OWNERS,
    kinds={"python", "duckdb", "postgres"},
    pool=WAREHOUSE_POOL,
    code_version="1",
    description=(
        "Upcoming matches with pre-match odds from the site's fixtures.csv (the newest snapshot wins), filtered to the "
        "configured leagues, upserted into `raw.fixtures` and `raw.fixture_odds`."
    ),
    metadata={"dagster/table_name": "raw.fixtures"},
)
def raw_fixtures(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    football_source: FootballDataSourceResource,
) -> dg.MaterializeResult:
    warm_imports(CHECKS_IMPORT)
    source = football_source.open()
    result = source.fetch_fixtures()
    if result.file is None:
        context.log.warning(f"no fixtures file at {source.describe()}")
        return dg.MaterializeResult(metadata={"rows": 0, "status": result.status})
    try:
        outcome = load_fixtures(warehouse.get(), result.file, divisions=football_source.leagues)
    except SourceFileRejected as exc:
        raise dg.Failure(description=str(exc)) from exc
    preview = warehouse.get().query_df(
        "SELECT div, match_date, kickoff_time, home_team, away_team FROM raw.fixtures "
        "WHERE snapshot_date = ? ORDER BY match_date, div LIMIT 10",
        [result.file.snapshot_date],
    )
    return dg.MaterializeResult(
        metadata={
            "snapshot": result.file.name,
            "rows": outcome.rows,
            "inserted": outcome.inserted,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "rejected": outcome.rejected,
            "sha256": outcome.sha256 or "",
            "date_min": outcome.date_min or "",
            "date_max": outcome.date_max or "",
            "preview": table_preview(preview),
        }
    )
