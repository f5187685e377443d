"""Alerts on failures: failed runs and failed asset checks.

A failed asset check does not fail its run, so run-failure alerts alone would
miss it: ``asset_check_alert_sensor`` reads the check executions themselves from
the instance (its asset-check execution index), with a cursor per check. Alerts
go to the webhook and to ``ops.alerts``; an alert that could not be written
(DuckDB busy with a run) stays in the sensor's cursor for a later tick.
"""

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import dagster as dg

from football_platform.defs.automation.sensors._common import dispatch, load_cursor
from football_platform.lib.alerts import Alert, dumps_pending, loads_pending
from football_platform.resources import AlertsResource, WarehouseResource

CHECK_ALERT_INTERVAL_SECONDS = 60
CHECK_ALERT_LOOKBACK = dt.timedelta(days=1)  # first tick ever: alert on failures of the last day only
CHECK_HISTORY_PAGE = 50  # executions of one check between two ticks, at most
STALE_PLANNED_SECONDS = 6 * 3600  # a check 'planned' this long ago belongs to a run that died


def _step_error(event: Any) -> str:
    """Why a step failed: a ``dg.Failure``'s description, else the root cause's message (user code's exception)."""
    data = event.step_failure_data
    if data is None:
        return event.message or "step failed"
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error
    while error is not None and error.cause is not None:
        error = error.cause
    return (error.message.strip() if error is not None else "") or event.message or "step failed"


def run_failure_alert_sensor(default_status: dg.DefaultSensorStatus) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alert_sensor",
        default_status=default_status,
        description="Every failed run of this code location: webhook alert + row in ops.alerts.",
    )
    def _sensor(context: dg.RunFailureSensorContext, alerts: AlertsResource, warehouse: WarehouseResource):
        run = context.dagster_run
        steps = context.get_step_failure_events()
        failed_steps = ", ".join(sorted({e.step_key for e in steps if e.step_key})) or "-"
        reason = context.failure_event.message or "run failed"
        details = "\n".join(f"• {e.step_key}: {_step_error(e)[:300]}" for e in steps[:5])
        partition = run.tags.get("dagster/partition") or run.tags.get("dagster/asset_partition_range_start")
        alert = Alert(
            kind="run_failure",
            severity="error",
            title=f"Run of {run.job_name} failed",
            message=f"{reason}\n{details}".strip(),
            dedupe_key=run.run_id,
            run_id=run.run_id,
            asset_key=None,
            link=alerts.run_link(run.run_id),
            fields={
                "job": run.job_name,
                "failed steps": failed_steps,
                **({"partition": partition} if partition else {}),
            },
        )
        unwritten = dispatch(alerts, warehouse, [alert], [], context.log)
        if unwritten:
            context.log.error(f"alert {alert.alert_id} for run {run.run_id} could not be written to ops.alerts")

    return _sensor


def _metadata_facts(metadata: dict[str, Any], limit: int = 4) -> dict[str, str]:
    """Short scalar metadata (counts, rates) worth showing in the alert; long markdown stays in the UI."""
    facts: dict[str, str] = {}
    for key, value in metadata.items():
        raw = getattr(value, "value", value)
        if isinstance(raw, bool | int | float) or (isinstance(raw, str) and len(raw) <= 80 and "\n" not in raw):
            facts[key] = str(raw)
        if len(facts) >= limit:
            break
    return facts


def check_failure_alert(key: dg.AssetCheckKey, record: Any, alerts: AlertsResource) -> Alert | None:
    """The alert for one completed check execution, or None if it passed."""
    entry = record.event
    event = entry.dagster_event if entry is not None else None
    evaluation = (
        event.asset_check_evaluation_data
        if event is not None and entry.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        else None
    )
    if evaluation is None or evaluation.passed:
        return None
    error = evaluation.severity == dg.AssetCheckSeverity.ERROR
    asset = key.asset_key.to_user_string()
    return Alert(
        kind="check_failure",
        severity="error" if error else "warning",
        title=f"Check {key.name} on {asset} failed ({'ERROR' if error else 'WARN'})",
        message=evaluation.description or "asset check failed",
        dedupe_key=f"{record.run_id}:{key.to_user_string()}:{record.id}",
        asset_key=asset,
        check_name=key.name,
        run_id=record.run_id,
        link=alerts.run_link(record.run_id),
        fields=_metadata_facts(dict(evaluation.metadata or {})),
        created_at=dt.datetime.fromtimestamp(entry.timestamp, tz=dt.UTC),
    )


def new_check_executions(
    instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey], seen: dict[str, int]
) -> dict[dg.AssetCheckKey, list[Any]]:
    """Executions of each check newer than the id last seen, oldest first.

    Reads the instance's asset-check execution index (global ids on SQLite and
    PostgreSQL alike; raw event storage ids are per run on the default SQLite
    storage). One batched query finds which checks moved; only those are paged.
    """
    storage = instance.event_log_storage
    latest = storage.get_latest_asset_check_execution_by_key(list(check_keys)) if check_keys else {}
    moved: dict[dg.AssetCheckKey, list[Any]] = {}
    for key in check_keys:
        record = latest.get(key)
        last = seen.get(key.to_user_string())
        if record is None or (last is not None and record.id <= last):
            continue
        history = storage.get_asset_check_execution_history(key, limit=CHECK_HISTORY_PAGE)
        moved[key] = sorted((r for r in history if last is None or r.id > last), key=lambda r: r.id)
    return moved


def asset_check_alert_sensor(
    check_keys: Sequence[dg.AssetCheckKey], default_status: dg.DefaultSensorStatus
) -> dg.SensorDefinition:
    """Alerts on failed evaluations of the code location's checks (which do not fail their run)."""
    keys = sorted(set(check_keys), key=lambda k: k.to_user_string())

    @dg.sensor(
        name="asset_check_alert_sensor",
        minimum_interval_seconds=CHECK_ALERT_INTERVAL_SECONDS,
        default_status=default_status,
        description="Failed asset check evaluations (which do not fail their run): webhook alert + ops.alerts.",
    )
    def _sensor(context: dg.SensorEvaluationContext, alerts: AlertsResource, warehouse: WarehouseResource):
        cursor = load_cursor(context.cursor)
        seen: dict[str, int] = {k: int(v) for k, v in cursor.get("seen", {}).items()}
        # Before a check was ever seen, only its failures of the last day alert: turning the sensor on
        # never replays old history.
        since = float(cursor.get("since") or (dt.datetime.now(dt.UTC) - CHECK_ALERT_LOOKBACK).timestamp())
        now = dt.datetime.now(dt.UTC).timestamp()
        new: list[Alert] = []
        for key, records in new_check_executions(context.instance, keys, seen).items():
            name = key.to_user_string()
            for record in records:
                if record.status.value == "PLANNED":
                    if now - record.create_timestamp < STALE_PLANNED_SECONDS:
                        break  # still running: its result lands in this same row, read it next tick
                    seen[name] = record.id  # its run died; the run-failure alert covers it
                    continue
                alert = check_failure_alert(key, record, alerts)
                if alert is not None and (name in cursor.get("seen", {}) or record.create_timestamp >= since):
                    new.append(alert)
                seen[name] = record.id
        pending = loads_pending(cursor.get("pending", []))
        unwritten = dispatch(alerts, warehouse, new, pending, context.log) if (new or pending) else []
        context.update_cursor(json.dumps({"since": since, "seen": seen, "pending": dumps_pending(unwritten)}))
        if not new:
            return dg.SkipReason(f"no failed check evaluations ({len(keys)} checks watched)")
        return dg.SkipReason(f"{len(new)} failed check evaluation(s) alerted")

    return _sensor
