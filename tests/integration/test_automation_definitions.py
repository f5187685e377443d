"""The real code location: it validates with Dagster's own CLI, and its automation is wired as on-call expects."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from football_platform.definitions import build_definitions
from football_platform.lib.seasons import current_season
from football_platform.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).parent / "dagster"


def test_dagster_definitions_validate(tmp_path: Path):
    env = {
        **os.environ,
        "FOOTBALL_ENV": "local",
        "FOOTBALL_STATE_DIR": str(tmp_path / "state"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    (tmp_path / "dagster_home").mkdir()
    done = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-m", "football_platform.definitions"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Validation successful" in done.stdout + done.stderr


def test_real_location_automation_in_prod():
    defs = build_definitions(Settings(profile="prod", database_url="postgresql://postgres@127.0.0.1:5432/unused"))
    repo = defs.get_repository_def()
    assert {s.name for s in repo.schedule_defs} >= {
        "daily_data_collection_schedule",
        "nightly_model_update_schedule",
        "cleanup_schedule",
        "asset_health_report_schedule",
    }
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in repo.schedule_defs)
    sensors = {s.name: s for s in repo.sensor_defs}
    for name in (
        "automation_condition_sensor",
        "run_failure_alert_sensor",
        "asset_check_alert_sensor",
        "model_drift_sensor",
        "new_source_data_sensor",
        "freshness_checks_sensor",
    ):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING, name

    daily = repo.get_schedule_def("daily_data_collection_schedule")
    now = dt.datetime.now(dt.UTC)
    request = daily(dg.build_schedule_context(scheduled_execution_time=now))
    assert request.partition_key == current_season(now.date())
    job = defs.resolve_job_def(daily.job_name)
    assert job.asset_layer.selected_asset_keys == {dg.AssetKey("raw_matches"), dg.AssetKey("raw_fixtures")}
    assert request.partition_key in job.partitions_def.get_partition_keys()
    # 1 July with a location loaded on 30 June: the new season's partition is already there, no reload needed.
    loaded_before = job.partitions_def.get_partition_keys()
    next_season = current_season(dt.date(now.year + (1 if now.month >= 7 else 0), 7, 1))
    assert next_season in loaded_before

    # After each collection, the daily predictions: dbt, team states, online store, batch predictions; no retrain.
    sensor = sensors["daily_predictions_sensor"]
    assert isinstance(sensor, dg.RunStatusSensorDefinition)
    assert sensor.job_name == "daily_predictions_job"
    daily_job = defs.resolve_job_def("daily_predictions_job")
    selected = {k.to_user_string() for k in daily_job.asset_layer.selected_asset_keys}
    assert {"batch_predictions", "team_state", "feast_online_materialization", "analytics/fct_matches",
            "staging/stg_fixtures", "reference/team_aliases", "prediction_performance"} <= selected
    assert not selected & {"match_features", "training_set", "trained_model", "production_model", "raw_matches",
                           "raw_fixtures"}


def test_real_location_locally_keeps_schedules_stopped_but_automation_running():
    repo = build_definitions(Settings()).get_repository_def()
    assert all(s.default_status == dg.DefaultScheduleStatus.STOPPED for s in repo.schedule_defs)
    statuses = {s.name: s.default_status for s in repo.sensor_defs}
    assert statuses.pop("automation_condition_sensor") == dg.DefaultSensorStatus.RUNNING
    assert set(statuses.values()) == {dg.DefaultSensorStatus.STOPPED}
    # The health report sees every asset of the location, including the raw_matches checks.
    assert repo.assets_defs_by_key[dg.AssetKey("asset_health_report")].group_names_by_key == {
        dg.AssetKey("asset_health_report"): "monitoring"
    }
