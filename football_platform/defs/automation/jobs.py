"""Jobs the schedules and sensors launch: daily collection, nightly model update, cleanup.

Asset jobs select by group, so assets that other domains add to ``features``,
``ml`` or ``serving`` join the nightly job without touching this file. The
scheduled freshness checks are left out of every job: they are evaluated by
their own sensor, and inside a materialising run they would judge the asset
before the new materialisation lands.
"""

import datetime as dt

import dagster as dg

from football_platform.contracts import WAREHOUSE_POOL, WAREHOUSE_WRITER_TAGS
from football_platform.lib.health import pick_time_column, retention_cutoff
from football_platform.resources import WarehouseResource

DAILY_INGESTION_JOB = "daily_data_collection_job"
SOURCE_INGESTION_JOB = "raw_matches_ingestion_job"
NIGHTLY_MODEL_JOB = "nightly_model_update_job"
DAILY_PREDICTIONS_JOB = "daily_predictions_job"
CLEANUP_JOB = "cleanup_job"
HEALTH_REPORT_JOB = "asset_health_report_job"
MODEL_GROUPS = ("features", "ml", "serving")
INGESTION_KEYS = ("raw_matches", "raw_fixtures")
# Rebuilt by the nightly model update only: the daily refresh after collection publishes predictions without
# retraining (team_state, the online store and batch_predictions read the day's results; the training set does not).
REFERENCE_GROUP = "reference"  # dbt seeds (defs/transform/translator.py)
MODEL_UPDATE_ONLY_KEYS = ("match_features", "training_set", "trained_model", "production_model")
# Runs that are still going (or about to) are never deleted, whatever their age.
FINISHED_STATUSES = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def asset_jobs(present: set[dg.AssetKey], freshness_checks: list[dg.AssetChecksDefinition]) -> list:
    """The asset jobs; the ingestion ones only when ingestion's assets are part of the code location."""

    def without_freshness(selection: dg.AssetSelection) -> dg.AssetSelection:
        return selection - dg.AssetSelection.checks(*freshness_checks) if freshness_checks else selection

    jobs = [
        dg.define_asset_job(
            NIGHTLY_MODEL_JOB,
            selection=without_freshness(dg.AssetSelection.groups(*MODEL_GROUPS)),
            description=f"Nightly model update: every asset in groups {', '.join(MODEL_GROUPS)}.",
            tags={"football/trigger": "nightly", **WAREHOUSE_WRITER_TAGS},
        )
    ]
    ingestion = [k for k in INGESTION_KEYS if dg.AssetKey(k) in present]
    if ingestion:
        jobs.append(
            dg.define_asset_job(
                DAILY_INGESTION_JOB,
                selection=without_freshness(dg.AssetSelection.assets(*ingestion)),
                description="Daily data collection: the current season's results and the newest fixtures.",
                tags={"football/trigger": "daily", **WAREHOUSE_WRITER_TAGS},
            )
        )
    if ingestion:
        keep_out = [k for k in MODEL_UPDATE_ONLY_KEYS if dg.AssetKey(k) in present]
        # Everything after collection, plus what it reads that nothing collects: the dbt seeds (group reference,
        # which dbt's tests read too), so a fresh deployment's first daily run builds them.
        downstream = dg.AssetSelection.assets(*ingestion).downstream(include_self=False)
        daily = (downstream.upstream() | dg.AssetSelection.groups(REFERENCE_GROUP)) - dg.AssetSelection.assets(
            *ingestion, *keep_out)
        jobs.append(
            dg.define_asset_job(
                DAILY_PREDICTIONS_JOB,
                selection=without_freshness(daily),
                description="After each daily collection: dbt, team states, the online store and fresh batch "
                "predictions from the current production model (no retrain: "
                f"{', '.join(MODEL_UPDATE_ONLY_KEYS)} belong to the nightly model update).",
                tags={"football/trigger": "daily", **WAREHOUSE_WRITER_TAGS},
            )
        )
    if dg.AssetKey("raw_matches") in present:
        jobs.append(
            dg.define_asset_job(
                SOURCE_INGESTION_JOB,
                selection=without_freshness(dg.AssetSelection.assets("raw_matches")),
                description="Re-ingest the season partitions whose source files changed (launched by a sensor).",
                tags={"football/trigger": "new_source_data", **WAREHOUSE_WRITER_TAGS},
            )
        )
    return jobs


class WarehouseRetention(dg.Config):
    """Retention of warehouse rows, in days (each at least 1)."""

    predictions_days: int = 400  # a season plus margin: performance scoring looks back a full season
    rejected_rows_days: int = 90
    dry_run: bool = False  # count what would go, delete nothing


class RunHistoryRetention(dg.Config):
    """Retention of Dagster run history (runs and their event logs), in days."""

    run_history_days: int = 30
    dry_run: bool = False


def _delete_older(
    context: dg.OpExecutionContext, store, table: str, column: str, cutoff: dt.datetime, dry_run: bool
) -> int:
    with store.connect() as conn:
        found = conn.query_one(f'SELECT COUNT(*) FROM {table} WHERE "{column}" < ?', [cutoff])
        count = int(found[0]) if found else 0
        if count and not dry_run:
            with conn.transaction():
                conn.execute(f'DELETE FROM {table} WHERE "{column}" < ?', [cutoff])
    verb = "would delete" if dry_run else "deleted"
    context.log.info(f"{table}: {verb} {count} row(s) with {column} < {cutoff:%Y-%m-%d %H:%M} UTC")
    return count


@dg.op(description="Delete warehouse rows past retention: old predictions and old rejected source rows.",
       pool=WAREHOUSE_POOL)
def prune_warehouse(context: dg.OpExecutionContext, config: WarehouseRetention, warehouse: WarehouseResource) -> dict:
    now = dt.datetime.now(dt.UTC)
    store = warehouse.get()
    deleted: dict[str, int] = {}
    if store.table_exists("analytics", "predictions"):
        columns = store.query_df(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            ["analytics", "predictions"],
        )["column_name"].tolist()
        column = pick_time_column(columns)
        if column is None:
            context.log.warning(f"analytics.predictions has no timestamp column to age rows by (columns: {columns})")
        else:
            cutoff = retention_cutoff(now, config.predictions_days)
            deleted["analytics.predictions"] = _delete_older(
                context, store, "analytics.predictions", column, cutoff, config.dry_run
            )
    else:
        context.log.info("analytics.predictions does not exist yet: nothing to prune")
    if store.table_exists("raw", "rejected_rows"):
        cutoff = retention_cutoff(now, config.rejected_rows_days)
        deleted["raw.rejected_rows"] = _delete_older(
            context, store, "raw.rejected_rows", "rejected_at", cutoff, config.dry_run
        )
    context.add_output_metadata({"deleted": dg.MetadataValue.json(deleted), "dry_run": config.dry_run})
    return deleted


@dg.op(description="Delete finished Dagster runs (and their event logs) older than the retention.")
def prune_run_history(context: dg.OpExecutionContext, config: RunHistoryRetention) -> int:
    cutoff = retention_cutoff(dt.datetime.now(dt.UTC), config.run_history_days)
    instance = context.instance
    old = dg.RunsFilter(created_before=cutoff, statuses=list(FINISHED_STATUSES))
    if config.dry_run:
        count = sum(1 for r in instance.get_run_records(filters=old) if r.dagster_run.run_id != context.run_id)
    else:
        count = 0
        seen: set[str] = set()
        while True:  # pages of 200 keep memory flat on a long history
            batch = [
                r.dagster_run.run_id
                for r in instance.get_run_records(filters=old, limit=200)
                if r.dagster_run.run_id != context.run_id and r.dagster_run.run_id not in seen
            ]
            if not batch:  # also stops if a storage ever failed to delete silently
                break
            seen.update(batch)
            for run_id in batch:
                instance.delete_run(run_id)
            count += len(batch)
    verb = "would delete" if config.dry_run else "deleted"
    context.log.info(f"run history: {verb} {count} finished run(s) created before {cutoff:%Y-%m-%d %H:%M} UTC")
    context.add_output_metadata({"runs": count, "cutoff": cutoff.isoformat(), "dry_run": config.dry_run})
    return count


@dg.job(
    name=CLEANUP_JOB,
    description="Retention: old predictions, old rejected rows, old Dagster run history (days set in run config).",
    tags={"football/trigger": "cleanup", **WAREHOUSE_WRITER_TAGS},
)
def cleanup_job():
    prune_warehouse()
    prune_run_history()
