"""Schedules, all in UTC. They run by themselves in prod and start stopped locally (turn them on in the UI)."""

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from football_platform.defs.automation.jobs import (
    CLEANUP_JOB,
    DAILY_INGESTION_JOB,
    HEALTH_REPORT_JOB,
    NIGHTLY_MODEL_JOB,
)
from football_platform.lib.seasons import current_season, season_start_year

DAILY_COLLECTION_CRON = "0 0 * * *"
NIGHTLY_MODEL_CRON = "0 2 * * *"
CLEANUP_CRON = "0 4 * * *"
HEALTH_REPORT_CRON = "0 7 * * *"  # after the 06:00 freshness deadline, before the working day


def season_partition_for(when: dt.datetime, season_keys: Sequence[str]) -> str:
    """The partition of the season in play at ``when``.

    The partition list is fixed when the code location loads; if the location has
    not been reloaded since a new season began (1 July), the newest known season
    is used rather than asking for a partition that does not exist yet.
    """
    season = current_season(when.date())
    if season in season_keys:
        return season
    if not season_keys:
        raise ValueError("no season partitions to schedule")
    # Codes are not ordered as text across the century ('9394' > '2324'): compare start years.
    start = season_start_year(season)
    known = [key for key in season_keys if season_start_year(key) <= start] or list(season_keys)
    return max(known, key=season_start_year)


def daily_collection_schedule(
    season_keys: Sequence[str], default_status: dg.DefaultScheduleStatus
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="daily_data_collection_schedule",
        cron_schedule=DAILY_COLLECTION_CRON,
        execution_timezone="UTC",
        job_name=DAILY_INGESTION_JOB,
        default_status=default_status,
        description="00:00 UTC: the current season's raw_matches partition and raw_fixtures; daily_predictions_sensor "
        "then refreshes dbt, team states, the online store and batch predictions (no retrain).",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        season = season_partition_for(when, season_keys)
        return dg.RunRequest(
            run_key=f"daily-{season}-{when:%Y%m%d}",
            partition_key=season,
            tags={"football/season": season},
        )

    return _schedule


def build_schedules(
    job_names: set[str], season_keys: Sequence[str], default_status: dg.DefaultScheduleStatus
) -> list[dg.ScheduleDefinition]:
    schedules: list[dg.ScheduleDefinition] = []
    if DAILY_INGESTION_JOB in job_names and season_keys:
        schedules.append(daily_collection_schedule(season_keys, default_status))
    plain = [
        (
            "nightly_model_update_schedule",
            NIGHTLY_MODEL_JOB,
            NIGHTLY_MODEL_CRON,
            "02:00 UTC: features, ml and serving groups.",
        ),
        (
            "cleanup_schedule",
            CLEANUP_JOB,
            CLEANUP_CRON,
            "04:00 UTC: retention of predictions, rejected rows, run history.",
        ),
        ("asset_health_report_schedule", HEALTH_REPORT_JOB, HEALTH_REPORT_CRON, "07:00 UTC: refresh ops.asset_health."),
    ]
    for name, job_name, cron, description in plain:
        if job_name in job_names:
            schedules.append(
                dg.ScheduleDefinition(
                    name=name,
                    job_name=job_name,
                    cron_schedule=cron,
                    execution_timezone="UTC",
                    default_status=default_status,
                    description=description,
                )
            )
    return schedules
