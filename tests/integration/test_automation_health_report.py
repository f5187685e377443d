"""asset_health_report against a real Dagster instance, written to ops.asset_health on DuckDB and PostgreSQL."""

import datetime as dt
import json

import dagster as dg

from football_platform.defs.automation import build_defs
from football_platform.defs.automation.health_report import HEALTH_REPORT_KEY
from football_platform.lib.warehouse import Warehouse
from football_platform.resources import WarehouseResource
from football_platform.settings import Settings

SEASONS = dg.StaticPartitionsDefinition(["2223", "2324"])


@dg.asset(key="raw_matches", group_name="ingestion", partitions_def=SEASONS)
def raw_matches() -> None:
    return None


@dg.asset_check(asset="raw_matches", name="raw_matches_expectations", blocking=True)
def expectations() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset="raw_matches", name="raw_odds_overround")
def overround() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description="0.8% triples outside")


@dg.asset(key="production_model", group_name="ml")
def production_model() -> None:
    return None


@dg.asset(
    key="match_features",
    group_name="features",
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=1)),
)
def match_features() -> None:
    return None


def _resources(warehouse: Warehouse) -> dict:
    if warehouse.kind == "duckdb":
        return {"warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(warehouse.path))}
    return {"warehouse": WarehouseResource(kind="postgres", database_url=warehouse.url)}


def test_health_report_rows_and_summary(warehouse: Warehouse):
    domain = dg.Definitions(
        assets=[raw_matches, production_model, match_features], asset_checks=[expectations, overround]
    )
    automation = build_defs([domain], Settings())
    freshness = list(automation.asset_checks)
    report_asset = next(a for a in automation.assets if HEALTH_REPORT_KEY in a.keys)

    with dg.instance_for_test() as instance:
        assert dg.materialize([raw_matches, expectations, overround], partition_key="2324", instance=instance).success
        assert dg.materialize([production_model], instance=instance).success
        # The freshness checks, evaluated after the materialisations as their sensor would.
        fresh_run = dg.materialize(
            [raw_matches, production_model, *freshness],
            selection=dg.AssetSelection.checks(*freshness),
            instance=instance,
        )
        assert {e.check_name for e in fresh_run.get_asset_check_evaluations()} == {"freshness_check"}

        result = dg.materialize([report_asset], instance=instance, resources=_resources(warehouse))
        assert result.success
        metadata = result.asset_materializations_for_node("asset_health_report")[0].metadata

    rows = warehouse.query_df("SELECT * FROM ops.asset_health").set_index("asset_key")
    assert set(rows.index) == {"raw_matches", "production_model", "match_features"}

    matches = rows.loc["raw_matches"]
    assert matches["status"] == "WARNING" and matches["group_name"] == "ingestion"
    assert (matches["checks_passed"], matches["checks_warned"], matches["checks_failed"]) == (2, 1, 0)
    assert matches["failing_checks"] == "raw_odds_overround"
    assert bool(matches["fresh"]) and matches["freshness_source"] == "check"
    results = json.loads(matches["check_results"])
    assert {name: r["result"] for name, r in results.items()} == {
        "raw_matches_expectations": "PASSED",
        "raw_odds_overround": "WARNED",
        "freshness_check": "PASSED",
    }
    assert matches["age_hours"] < 1

    model = rows.loc["production_model"]
    assert model["status"] == "HEALTHY" and bool(model["fresh"]) and model["checks_passed"] == 1

    features = rows.loc["match_features"]
    assert features["status"] == "UNKNOWN"  # never materialised
    assert not bool(features["fresh"]) and features["freshness_source"] == "policy"

    summary = metadata["summary"].value
    assert "0 degraded, 1 warning, 1 healthy, 1 unknown" in summary
    assert "raw_odds_overround (warned)" in summary and "Never materialised (1): match_features" in summary
    assert metadata["dagster/row_count"].value == 3

    # Replaced, not appended, on the next run.
    with dg.instance_for_test() as instance:
        assert dg.materialize([report_asset], instance=instance, resources=_resources(warehouse)).success
    again = warehouse.query_df("SELECT asset_key, status FROM ops.asset_health ORDER BY asset_key")
    assert again.values.tolist() == [
        ["match_features", "UNKNOWN"],
        ["production_model", "UNKNOWN"],
        ["raw_matches", "UNKNOWN"],
    ]
