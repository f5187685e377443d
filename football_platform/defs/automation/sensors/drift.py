"""``model_drift_sensor``: rolling RPS of settled predictions against the closing line; alerts on drift and recovery."""

import json

import dagster as dg

from football_platform.defs.automation.sensors._common import dispatch, load_cursor
from football_platform.lib.alerts import Alert, dumps_pending, loads_pending
from football_platform.lib.health import rps_drift
from football_platform.resources import AlertsResource, WarehouseResource

DRIFT_INTERVAL_SECONDS = 60 * 60
DRIFT_WINDOW_MATCHES = 500
DRIFT_MIN_MATCHES = 150
# Mean RPS over the window, model minus closing line. Good models sit ~0.006 above the close on the same matches
# (EPL 2019/20-2023/24: the best baselines' average 0.2010 vs the close 0.1953); base rates sit ~0.039 above.
# 0.015 means the model has lost most of its edge.
DRIFT_MAX_RPS_GAP = 0.015


def model_drift_sensor(
    default_status: dg.DefaultSensorStatus,
    window: int = DRIFT_WINDOW_MATCHES,
    max_gap: float = DRIFT_MAX_RPS_GAP,
    min_matches: int = DRIFT_MIN_MATCHES,
) -> dg.SensorDefinition:
    @dg.sensor(
        name="model_drift_sensor",
        minimum_interval_seconds=DRIFT_INTERVAL_SECONDS,
        default_status=default_status,
        description=f"Rolling RPS of the last {window} settled predictions vs the closing line "
        f"(analytics.prediction_performance); alerts when the model is more than {max_gap} worse, and when it recovers.",
    )
    def _sensor(context: dg.SensorEvaluationContext, alerts: AlertsResource, warehouse: WarehouseResource):
        cursor = load_cursor(context.cursor)
        pending = loads_pending(cursor.get("pending", []))
        store = warehouse.get()
        try:
            if not store.table_exists("analytics", "prediction_performance"):
                return dg.SkipReason("analytics.prediction_performance does not exist yet")
            frame = store.query_df(
                "SELECT match_date, rps_model, rps_closing FROM analytics.prediction_performance "
                f"WHERE rps_model IS NOT NULL AND rps_closing IS NOT NULL ORDER BY match_date DESC LIMIT {int(window)}"
            )
        except Exception as exc:  # noqa: BLE001 - a busy DuckDB file is normal while a run writes; try next tick
            return dg.SkipReason(f"warehouse not readable now: {type(exc).__name__}: {exc}")
        status = rps_drift(frame, window=window, max_gap=max_gap, min_matches=min_matches)
        previous = cursor.get("state", "unknown")
        state = "drifted" if status.drifted else ("ok" if status.enough_data else "unknown")
        new: list[Alert] = []
        facts = {
            "matches": str(status.matches),
            "rps model": f"{status.rps_model:.4f}" if status.rps_model is not None else "-",
            "rps closing": f"{status.rps_closing:.4f}" if status.rps_closing is not None else "-",
            "window": f"{status.first_date} → {status.last_date}",
        }
        if state == "drifted" and previous != "drifted":
            new.append(
                Alert(
                    kind="model_drift",
                    severity="warning",
                    title="Model drift: predictions lost their edge against the closing line",
                    message=(
                        f"Mean RPS over the last {status.matches} settled matches is {status.rps_model:.4f} against "
                        f"{status.rps_closing:.4f} for the closing odds (gap {status.gap:+.4f} > {max_gap})."
                    ),
                    dedupe_key=f"drifted:{status.last_date}",
                    asset_key="prediction_performance",
                    fields=facts,
                )
            )
        elif state == "ok" and previous == "drifted":
            new.append(
                Alert(
                    kind="model_drift",
                    severity="info",
                    title="Model drift recovered",
                    message=f"RPS gap to the closing line is back to {status.gap:+.4f} (threshold {max_gap}).",
                    dedupe_key=f"recovered:{status.last_date}",
                    asset_key="prediction_performance",
                    fields=facts,
                )
            )
        unwritten = dispatch(alerts, warehouse, new, pending, context.log) if (new or pending) else []
        context.update_cursor(
            json.dumps({"state": state, "last_date": status.last_date, "pending": dumps_pending(unwritten)})
        )
        gap = f"{status.gap:+.4f}" if status.gap is not None else "n/a"
        return dg.SkipReason(f"state {state} (was {previous}); gap {gap} over {status.matches} matches")

    return _sensor
