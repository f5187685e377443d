"""``asset_health_report``: every asset's last materialisation, latest check results and freshness.

Open source only: it reads the Dagster instance (``get_latest_materialization_event``
and the event log's latest check executions), writes ``ops.asset_health`` (replaced
on every run) and puts a markdown summary in the materialisation's metadata.
"""

import datetime as dt

import dagster as dg

from football_platform.contracts import ASSET_HEALTH_TABLE, WAREHOUSE_POOL
from football_platform.defs.automation.catalog import Catalog
from football_platform.defs.common.keys import HEALTH_REPORT
from football_platform.lib.health import (
    AssetHealth,
    CheckState,
    freshness_from_checks,
    freshness_from_policy,
    health_frame,
    health_markdown,
    status_counts,
)
from football_platform.lib.ops_tables import replace_health_table
from football_platform.resources import WarehouseResource

HEALTH_REPORT_KEY = HEALTH_REPORT
HEALTH_TABLE = ASSET_HEALTH_TABLE


def _check_state(key: dg.AssetCheckKey, record, freshness_keys: set[dg.AssetCheckKey]) -> CheckState:
    entry = getattr(record, "event", None) if record is not None else None
    event = entry.dagster_event if entry is not None else None
    evaluation = (
        event.asset_check_evaluation_data
        if event is not None and entry.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        else None
    )
    if evaluation is None:  # never run, or planned in a run that has not finished it
        return CheckState(key.name, None, is_freshness=key in freshness_keys)
    return CheckState(
        name=key.name,
        passed=bool(evaluation.passed),
        severity=evaluation.severity.value,
        evaluated_at=dt.datetime.fromtimestamp(entry.timestamp, tz=dt.UTC),
        description=evaluation.description,
        is_freshness=key in freshness_keys,
    )


def collect_health(
    instance: dg.DagsterInstance, catalog: Catalog, freshness_keys: set[dg.AssetCheckKey], now: dt.datetime
) -> list[AssetHealth]:
    check_keys = [key for keys in catalog.checks.values() for key in keys]
    # The storage's batched lookup (one query for every check), as the UI does.
    latest_checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys) if check_keys else {}
    report: list[AssetHealth] = []
    for key, info in sorted(catalog.assets.items(), key=lambda kv: kv[0].to_user_string()):
        event = instance.get_latest_materialization_event(key)
        last = dt.datetime.fromtimestamp(event.timestamp, tz=dt.UTC) if event is not None else None
        checks = tuple(_check_state(ck, latest_checks.get(ck), freshness_keys) for ck in catalog.checks.get(key, ()))
        fresh, source = freshness_from_checks(checks), "check"
        if fresh is None and info.fail_window_seconds is not None:
            fresh, source = freshness_from_policy(last, dt.timedelta(seconds=info.fail_window_seconds), now), "policy"
        report.append(
            AssetHealth(
                asset_key=key.to_user_string(),
                group_name=info.group_name,
                last_materialized_at=last,
                last_run_id=event.run_id if event is not None else None,
                checks=checks,
                fresh=fresh,
                freshness_source=source if fresh is not None else None,
            )
        )
    return report


def build_health_report(catalog: Catalog, freshness_keys: set[dg.AssetCheckKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=HEALTH_REPORT_KEY,
        group_name="monitoring",
        owners=["team:data-engineering"],
        kinds={"python", "duckdb", "postgres"},
        pool=WAREHOUSE_POOL,
        description=(
            "On-call's one-page view: for every asset of the code location, the last materialisation, the latest "
            "result of each check and whether it is fresh. Replaces `ops.asset_health` on every run."
        ),
        metadata={"dagster/table_name": HEALTH_TABLE},
    )
    def asset_health_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        now = dt.datetime.now(dt.UTC)
        report = collect_health(context.instance, catalog, freshness_keys, now)
        frame = health_frame(report, now)
        replace_health_table(warehouse.get(), frame)
        counts = status_counts(report)
        summary = health_markdown(report, now)
        context.log.info(summary)
        return dg.MaterializeResult(
            metadata={
                "summary": dg.MetadataValue.md(summary),
                "dagster/row_count": len(frame),
                **{f"assets_{status.lower()}": count for status, count in counts.items()},
            }
        )

    return asset_health_report
