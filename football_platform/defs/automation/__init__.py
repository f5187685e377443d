"""Automation and on-call: schedules, sensors, alerts, freshness checks and the asset health report.

Built *from* the other domains' Definitions (see :mod:`.catalog`), never from their modules, so it only ever
names assets that exist and imports no other domain. ``definitions.py`` calls :func:`with_automation` on its
explicit list of domain Definitions.

Default status: schedules and sensors run by themselves in prod and start stopped
locally, except the declarative-automation sensor, which always runs (assets
with ``automation_condition`` must follow ingestion in every profile).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from football_platform.contracts import WAREHOUSE_WRITER_TAGS
from football_platform.defs.automation.catalog import Catalog, catalog_of
from football_platform.defs.automation.freshness import (
    build_freshness_checks,
    build_freshness_sensor,
    freshness_check_keys,
)
from football_platform.defs.automation.health_report import HEALTH_REPORT_KEY, build_health_report
from football_platform.defs.automation.jobs import HEALTH_REPORT_JOB, asset_jobs, cleanup_job
from football_platform.defs.automation.schedules import build_schedules
from football_platform.defs.automation.sensors import (
    asset_check_alert_sensor,
    daily_predictions_sensor,
    model_drift_sensor,
    new_source_data_sensor,
    run_failure_alert_sensor,
)
from football_platform.settings import Settings, get_settings

__all__ = ["build_defs", "with_automation"]

AUTOMATION_SENSOR = "automation_condition_sensor"


def build_defs(
    domains: Sequence[dg.Definitions],
    settings: Settings | None = None,
    extra_source_seasons: Sequence[str] = (),
) -> dg.Definitions:
    """Everything on-call needs, for the assets that ``domains`` define."""
    settings = settings or get_settings()
    schedule_status = dg.DefaultScheduleStatus.RUNNING if settings.is_prod else dg.DefaultScheduleStatus.STOPPED
    sensor_status = dg.DefaultSensorStatus.RUNNING if settings.is_prod else dg.DefaultSensorStatus.STOPPED

    catalog: Catalog = catalog_of(domains)
    freshness = build_freshness_checks(catalog)
    fresh_keys = freshness_check_keys(freshness)
    checked = catalog.with_checks(fresh_keys)
    health_report = build_health_report(checked, fresh_keys)

    jobs: list = [
        *asset_jobs(set(catalog.assets), freshness),
        dg.define_asset_job(
            HEALTH_REPORT_JOB,
            selection=dg.AssetSelection.assets(HEALTH_REPORT_KEY),
            description="Refresh ops.asset_health.",
            tags=WAREHOUSE_WRITER_TAGS,
        ),
        cleanup_job,
    ]
    job_names = {job.name for job in jobs}
    raw_matches = catalog.assets.get(dg.AssetKey("raw_matches"))
    season_keys = list(raw_matches.partition_keys) if raw_matches else []

    sensors: list[dg.SensorDefinition] = [
        dg.AutomationConditionSensorDefinition(
            AUTOMATION_SENSOR,
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=60,
            description="Evaluates every asset's automation_condition (eager / on_cron) so that downstream assets "
            "follow ingestion.",
        ),
        run_failure_alert_sensor(sensor_status),
        asset_check_alert_sensor([k for keys in checked.checks.values() for k in keys], sensor_status),
        model_drift_sensor(sensor_status),
    ]
    if raw_matches is not None and season_keys:
        sensors.append(new_source_data_sensor(season_keys, extra_source_seasons, sensor_status))
    after_collection = daily_predictions_sensor(jobs, sensor_status)
    if after_collection is not None:
        sensors.append(after_collection)
    freshness_sensor = build_freshness_sensor(freshness, sensor_status)
    if freshness_sensor is not None:
        sensors.append(freshness_sensor)

    return dg.Definitions(
        assets=[health_report],
        asset_checks=freshness,
        jobs=jobs,
        schedules=build_schedules(job_names, season_keys, schedule_status),
        sensors=sensors,
    )


def with_automation(domains: Sequence[dg.Definitions], settings: Settings | None = None) -> list[dg.Definitions]:
    """``domains`` plus the automation built for them: ``Definitions.merge(*with_automation([...]), resources)``."""
    return [*domains, build_defs(domains, settings)]
