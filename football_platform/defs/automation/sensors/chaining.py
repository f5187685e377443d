"""``daily_predictions_sensor``: after each successful daily collection, the daily predictions job."""

from collections.abc import Sequence

import dagster as dg

from football_platform.defs.automation.jobs import DAILY_INGESTION_JOB, DAILY_PREDICTIONS_JOB, SOURCE_INGESTION_JOB


def daily_predictions_sensor(jobs: Sequence, default_status: dg.DefaultSensorStatus) -> dg.SensorDefinition | None:
    """When a daily collection (or a source-triggered ingestion) succeeds, refresh everything up to batch predictions
    (``daily_predictions_job``): new results and fixtures are predicted the same night, without a retrain."""
    by_name = {job.name: job for job in jobs}
    monitored = [by_name[n] for n in (DAILY_INGESTION_JOB, SOURCE_INGESTION_JOB) if n in by_name]
    if DAILY_PREDICTIONS_JOB not in by_name or not monitored:
        return None

    @dg.run_status_sensor(
        name="daily_predictions_sensor",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=monitored,
        request_job=by_name[DAILY_PREDICTIONS_JOB],
        default_status=default_status,
        description="After a successful daily collection or source-triggered ingestion: daily_predictions_job "
        "(dbt → team_state → online store → batch_predictions, no retrain).",
    )
    def _sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest:
        return dg.RunRequest(run_key=f"daily-predictions-{context.dagster_run.run_id}",
                             tags={"football/after_run": context.dagster_run.run_id})

    return _sensor
