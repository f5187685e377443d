"""Schedules, jobs and default statuses built for a code location shaped like the real one."""

import datetime as dt

import dagster as dg
import pytest

from football_platform.defs.automation import build_defs
from football_platform.lib.seasons import all_seasons, current_season
from football_platform.resources import build_resources
from football_platform.settings import Settings

SEASONS = dg.StaticPartitionsDefinition(all_seasons())
LOCAL = Settings()
PROD = Settings(profile="prod", database_url="postgresql://postgres@127.0.0.1:5432/unused")


@dg.asset(key="raw_matches", group_name="ingestion", partitions_def=SEASONS)
def raw_matches(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"partitions": ",".join(context.partition_keys)})


@dg.asset(key="raw_fixtures", group_name="ingestion")
def raw_fixtures() -> None:
    return None


@dg.asset(key="match_features", group_name="features", deps=["raw_matches"])
def match_features() -> None:
    return None


@dg.asset(key="production_model", group_name="ml", deps=["match_features"])
def production_model() -> None:
    return None


def _definitions(domain: dg.Definitions, settings: Settings = LOCAL) -> dg.Definitions:
    return dg.Definitions.merge(
        domain, build_defs([domain], settings), dg.Definitions(resources=build_resources(settings))
    )


@pytest.fixture(scope="module")
def full_domain() -> dg.Definitions:
    return dg.Definitions(assets=[raw_matches, raw_fixtures, match_features, production_model])


@pytest.mark.parametrize(
    ("when", "season"),
    [
        (dt.datetime(2024, 3, 1, 0, 0, tzinfo=dt.UTC), "2324"),
        (dt.datetime(2023, 8, 12, 0, 0, tzinfo=dt.UTC), "2324"),
        (dt.datetime(2023, 6, 30, 0, 0, tzinfo=dt.UTC), "2223"),
    ],
)
def test_daily_collection_asks_for_the_season_in_play(full_domain: dg.Definitions, when: dt.datetime, season: str):
    repo = _definitions(full_domain).get_repository_def()
    schedule = repo.get_schedule_def("daily_data_collection_schedule")
    assert schedule.cron_schedule == "0 0 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.job_name == "daily_data_collection_job"
    request = schedule(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.partition_key == season
    assert request.run_key == f"daily-{season}-{when:%Y%m%d}"


def test_daily_collection_today_is_the_current_season(full_domain: dg.Definitions):
    schedule = _definitions(full_domain).get_repository_def().get_schedule_def("daily_data_collection_schedule")
    now = dt.datetime.now(dt.UTC)
    assert schedule(dg.build_schedule_context(scheduled_execution_time=now)).partition_key == current_season(now.date())


def test_daily_collection_job_materialises_matches_and_fixtures_for_one_season(full_domain: dg.Definitions):
    job = _definitions(full_domain).resolve_job_def("daily_data_collection_job")
    assert job.asset_layer.selected_asset_keys == {dg.AssetKey("raw_matches"), dg.AssetKey("raw_fixtures")}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(partition_key="2324", instance=instance)
        assert result.success
        matches = result.asset_materializations_for_node("raw_matches")
        assert [m.partition for m in matches] == ["2324"]
        # The scheduled freshness check is evaluated by its own sensor, never inside the collection run.
        assert result.get_asset_check_evaluations() == []


def test_other_schedules_and_their_jobs(full_domain: dg.Definitions):
    defs = _definitions(full_domain)
    repo = defs.get_repository_def()
    expected = {
        "nightly_model_update_schedule": ("0 2 * * *", "nightly_model_update_job"),
        "cleanup_schedule": ("0 4 * * *", "cleanup_job"),
        "asset_health_report_schedule": ("0 7 * * *", "asset_health_report_job"),
    }
    for name, (cron, job_name) in expected.items():
        schedule = repo.get_schedule_def(name)
        assert (schedule.cron_schedule, schedule.job_name, schedule.execution_timezone) == (cron, job_name, "UTC")
    nightly = defs.resolve_job_def("nightly_model_update_job")
    assert nightly.asset_layer.selected_asset_keys == {dg.AssetKey("match_features"), dg.AssetKey("production_model")}


def test_default_status_running_in_prod_stopped_locally(full_domain: dg.Definitions):
    for settings, expected in ((LOCAL, "STOPPED"), (PROD, "RUNNING")):
        repo = _definitions(full_domain, settings).get_repository_def()
        assert {s.default_status.value for s in repo.schedule_defs} == {expected}
        statuses = {s.name: s.default_status.value for s in repo.sensor_defs}
        assert statuses.pop("automation_condition_sensor") == "RUNNING"  # declarative automation always runs
        assert set(statuses) == {
            "run_failure_alert_sensor",
            "asset_check_alert_sensor",
            "model_drift_sensor",
            "new_source_data_sensor",
            "freshness_checks_sensor",
            "daily_predictions_sensor",
        }
        assert set(statuses.values()) == {expected}


def test_freshness_checks_only_for_assets_that_exist():
    only_ingestion = dg.Definitions(assets=[raw_matches, raw_fixtures])
    defs = _definitions(only_ingestion)
    dg.Definitions.validate_loadable(defs)
    checked = {
        spec.key.asset_key.to_user_string()
        for c in build_defs([only_ingestion], LOCAL).asset_checks
        for spec in c.check_specs
    }
    assert checked == {"raw_matches"}
    with_model = build_defs([dg.Definitions(assets=[raw_matches, match_features, production_model])], LOCAL)
    checked = {spec.key.asset_key.to_user_string() for c in with_model.asset_checks for spec in c.check_specs}
    assert checked == {"raw_matches", "production_model"}


def test_validates_with_no_model_groups_and_no_ingestion():
    """Before the other domains land: empty groups, no raw_matches. Definitions still load."""
    empty = dg.Definitions(assets=[])
    defs = _definitions(empty)
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert not repo.has_schedule_def("daily_data_collection_schedule")
    assert repo.has_schedule_def("nightly_model_update_schedule")
    assert not repo.has_sensor_def("new_source_data_sensor")


def test_catalog_reads_groups_partitions_policies_and_checks():
    from football_platform.defs.automation.catalog import catalog_of

    @dg.asset(
        key="online_features",
        group_name="features",
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30)),
        check_specs=[dg.AssetCheckSpec("rows_present", asset="online_features")],
    )
    def online_features():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(passed=True)

    @dg.asset_check(asset="raw_matches", name="raw_matches_expectations")
    def expectations() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    catalog = catalog_of([dg.Definitions(assets=[raw_matches, online_features], asset_checks=[expectations])])
    matches = catalog.assets[dg.AssetKey("raw_matches")]
    assert matches.group_name == "ingestion" and matches.partition_keys[:2] == ("9394", "9495")
    assert matches.partition_keys[-1] == current_season()
    features = catalog.assets[dg.AssetKey("online_features")]
    assert features.fail_window_seconds == 30 * 3600 and features.partition_keys == ()
    assert catalog.checks == {
        dg.AssetKey("raw_matches"): (dg.AssetCheckKey(dg.AssetKey("raw_matches"), "raw_matches_expectations"),),
        dg.AssetKey("online_features"): (dg.AssetCheckKey(dg.AssetKey("online_features"), "rows_present"),),
    }
