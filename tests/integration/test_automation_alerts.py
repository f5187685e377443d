"""Alerts end to end: real Dagster runs, a real local webhook receiver, ops.alerts in a real warehouse."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from football_platform.defs.automation.sensors import (
    asset_check_alert_sensor,
    model_drift_sensor,
    run_failure_alert_sensor,
)
from football_platform.lib.alerts import Alert, Delivery, deliver, record_alerts
from football_platform.lib.warehouse import Warehouse
from football_platform.resources import AlertsResource, WarehouseResource

STOPPED = dg.DefaultSensorStatus.STOPPED


class WebhookReceiver:
    """A Slack-like incoming webhook on 127.0.0.1 that keeps every JSON body it receives."""

    def __init__(self, status: int = 200, delay_seconds: float = 0.0):
        self.status = status
        self.delay_seconds = delay_seconds
        self.payloads: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(receiver.delay_seconds)
                receiver.payloads.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status == 200 else b"invalid_payload")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/services/T000/B000/XXXX"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _alerts_table(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.query_df("SELECT * FROM ops.alerts ORDER BY severity, check_name")


# --- a small code location whose checks fail ------------------------------------------------------------------------


@dg.asset(key="toy_matches")
def toy_matches() -> None:
    return None


@dg.asset_check(asset="toy_matches", name="goals_in_range")
def goals_in_range() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description="3 rows with fthg > 15",
        metadata={"unexpected_total": 3, "offending_rows": dg.MetadataValue.md("| a |\n|---|\n| 1 |")},
    )


@dg.asset_check(asset="toy_matches", name="overround_in_range")
def overround_in_range() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description="0.7% triples outside")


@dg.asset_check(asset="toy_matches", name="keys_unique")
def keys_unique() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset(key="exploding_asset")
def exploding_asset() -> None:
    raise RuntimeError("source file 2324/E0.csv: HTTP 503 after retries")


CHECK_KEYS = [
    dg.AssetCheckKey(dg.AssetKey("toy_matches"), name)
    for name in ("goals_in_range", "overround_in_range", "keys_unique", "never_defined_here")
]


def _check_tick(instance, cursor, alerts: AlertsResource, warehouse: WarehouseResource):
    sensor = asset_check_alert_sensor(CHECK_KEYS, STOPPED)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"alerts": alerts, "warehouse": warehouse}
    )
    sensor.evaluate_tick(context)
    return context.cursor


def test_failed_checks_reach_the_webhook_and_ops_alerts(receiver: WebhookReceiver, instance, tmp_path: Path):
    result = dg.materialize([toy_matches, goals_in_range, overround_in_range, keys_unique], instance=instance)
    assert result.success  # a failed check does not fail its run: that is why this sensor exists
    store = Warehouse(kind="duckdb", path=tmp_path / "warehouse.duckdb")
    alerts = AlertsResource(webhook_url=receiver.url, ui_base_url="http://dagster.test:3000")
    warehouse = WarehouseResource(kind="duckdb", duckdb_path=str(store.path))

    cursor = _check_tick(instance, None, alerts, warehouse)
    assert len(receiver.payloads) == 2
    texts = sorted(p["text"] for p in receiver.payloads)
    assert texts[0].startswith(":rotating_light: [ERROR] Check goals_in_range on toy_matches failed (ERROR)")
    assert "3 rows with fthg > 15" in texts[0]
    assert texts[1].startswith(":warning: [WARNING] Check overround_in_range on toy_matches failed (WARN)")
    error_payload = next(p for p in receiver.payloads if "goals_in_range" in p["text"])
    flat = json.dumps(error_payload["blocks"])
    assert "*unexpected_total*\\n3" in flat and "offending_rows" not in flat  # long markdown stays in the UI
    assert f"http://dagster.test:3000/runs/{result.run_id}" in flat

    table = _alerts_table(store)
    assert table[["kind", "severity", "asset_key", "check_name"]].values.tolist() == [
        ["check_failure", "error", "toy_matches", "goals_in_range"],
        ["check_failure", "warning", "toy_matches", "overround_in_range"],
    ]
    assert set(table["run_id"]) == {result.run_id}
    assert table["delivered"].tolist() == [True, True] and table["delivery_error"].isna().all()

    # Nothing new: no post, no row.
    cursor = _check_tick(instance, cursor, alerts, warehouse)
    assert len(receiver.payloads) == 2 and len(_alerts_table(store)) == 2

    # The same checks failing in a new run are new alerts.
    second = dg.materialize([toy_matches, goals_in_range, overround_in_range, keys_unique], instance=instance)
    _check_tick(instance, cursor, alerts, warehouse)
    assert len(receiver.payloads) == 4
    assert set(_alerts_table(store)["run_id"]) == {result.run_id, second.run_id}


def test_first_tick_ignores_history_older_than_a_day(receiver: WebhookReceiver, instance, tmp_path: Path):
    dg.materialize([toy_matches, goals_in_range], instance=instance)
    old = json.dumps({"since": time.time() + 60})  # as if the sensor had started after these evaluations
    warehouse = WarehouseResource(kind="duckdb", duckdb_path=str(tmp_path / "w.duckdb"))
    _check_tick(instance, old, AlertsResource(webhook_url=receiver.url), warehouse)
    assert receiver.payloads == []


def test_alert_kept_in_cursor_until_the_warehouse_takes_it(receiver: WebhookReceiver, instance, tmp_path: Path):
    dg.materialize([toy_matches, goals_in_range], instance=instance)
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the warehouse's folder should be")
    broken = WarehouseResource(kind="duckdb", duckdb_path=str(blocker / "warehouse.duckdb"))
    alerts = AlertsResource(webhook_url=receiver.url, record_attempts=1)

    cursor = _check_tick(instance, None, alerts, broken)
    pending = json.loads(cursor)["pending"]
    assert len(pending) == 1 and pending[0]["delivery"]["delivered"] is True
    assert len(receiver.payloads) == 1

    good = Warehouse(kind="duckdb", path=tmp_path / "warehouse.duckdb")
    cursor = _check_tick(instance, cursor, alerts, WarehouseResource(kind="duckdb", duckdb_path=str(good.path)))
    assert json.loads(cursor)["pending"] == []
    assert len(receiver.payloads) == 1  # written late, not sent twice
    assert _alerts_table(good)["check_name"].tolist() == ["goals_in_range"]


def test_run_failure_alert(receiver: WebhookReceiver, instance, tmp_path: Path):
    result = dg.materialize([exploding_asset], instance=instance, raise_on_error=False)
    assert not result.success
    store = Warehouse(kind="duckdb", path=tmp_path / "warehouse.duckdb")
    resources = {
        "alerts": AlertsResource(webhook_url=receiver.url),
        "warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(store.path)),
    }
    sensor = run_failure_alert_sensor(STOPPED)
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    ).for_run_failure()
    sensor(context)
    assert len(receiver.payloads) == 1
    text = receiver.payloads[0]["text"]
    assert text.startswith(f":rotating_light: [ERROR] Run of {result.dagster_run.job_name} failed")
    assert "exploding_asset" in json.dumps(receiver.payloads[0]["blocks"])
    table = _alerts_table(store)
    assert table[["kind", "severity", "run_id"]].values.tolist() == [["run_failure", "error", result.run_id]]
    assert "HTTP 503 after retries" in table["message"].iloc[0]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def _alert(key: str) -> Alert:
    return Alert(kind="check_failure", severity="warning", title="t", message="m", dedupe_key=key)


def test_delivery_failures_are_returned_not_raised():
    with WebhookReceiver(status=500) as failing:
        delivery = deliver(_alert("a"), failing.url)
        assert (delivery.delivered, delivery.status_code) == (False, 500)
        assert delivery.error == "webhook answered HTTP 500: invalid_payload"
        assert len(failing.payloads) == 1
    unreachable = deliver(_alert("b"), _closed_port_url())
    assert not unreachable.delivered and unreachable.error.startswith("webhook unreachable: ConnectError")
    with WebhookReceiver(delay_seconds=2.0) as slow:
        started = time.monotonic()
        late = deliver(_alert("c"), slow.url, timeout_seconds=0.5)
        assert time.monotonic() - started < 1.9
        assert late == Delivery(False, "webhook timed out after 0.5s")
    assert deliver(_alert("d"), None) == Delivery(False, "no webhook configured (FOOTBALL_ALERT_WEBHOOK_URL)")


def test_ops_alerts_on_both_warehouses(warehouse: Warehouse):
    """Created if missing, idempotent on alert_id, timestamps kept to the second, on DuckDB and PostgreSQL."""
    first = _alert("x")
    assert record_alerts(warehouse, [(first, Delivery(False, "HTTP 500"))]) == 1
    assert record_alerts(warehouse, [(first, Delivery(True)), (_alert("y"), Delivery(True))]) == 1
    table = warehouse.query_df(
        "SELECT alert_id, delivered, delivery_error, created_at FROM ops.alerts ORDER BY alert_id"
    )
    assert len(table) == 2
    row = table[table["alert_id"] == first.alert_id].iloc[0]
    assert not row["delivered"] and row["delivery_error"] == "HTTP 500"  # the first record stands
    stored = pd.Timestamp(row["created_at"])
    assert abs((stored.tz_convert("UTC") - pd.Timestamp(first.created_at)).total_seconds()) < 1


# --- model drift -----------------------------------------------------------------------------------------------------


def _write_performance(store: Warehouse, rows: list[tuple[str, float, float]]) -> None:
    with store.connect() as conn, conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS analytics.prediction_performance "
            "(match_date DATE, rps_model DOUBLE PRECISION, rps_closing DOUBLE PRECISION)"
        )
        for row in rows:
            conn.execute("INSERT INTO analytics.prediction_performance VALUES (?, ?, ?)", list(row))


def test_model_drift_alerts_once_then_on_recovery(receiver: WebhookReceiver, instance, tmp_path: Path):
    store = Warehouse(kind="duckdb", path=tmp_path / "warehouse.duckdb")
    resources = {
        "alerts": AlertsResource(webhook_url=receiver.url),
        "warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(store.path)),
    }
    sensor = model_drift_sensor(STOPPED, window=4, max_gap=0.015, min_matches=4)

    def tick(cursor):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        data = sensor.evaluate_tick(context)
        return context.cursor, data.skip_message

    cursor, message = tick(None)
    assert "does not exist yet" in message and receiver.payloads == []

    # Four settled matches, model 0.215 vs closing 0.195 on average: gap 0.020 > 0.015.
    _write_performance(store, [(f"2024-01-0{d}", 0.215, 0.195) for d in range(1, 5)])
    cursor, _ = tick(cursor)
    assert len(receiver.payloads) == 1
    assert "Model drift" in receiver.payloads[0]["text"] and "0.2150" in receiver.payloads[0]["text"]
    assert json.loads(cursor)["state"] == "drifted"
    cursor, _ = tick(cursor)
    assert len(receiver.payloads) == 1  # still drifted: no repeat

    # Four newer matches at 0.200 vs 0.195 push the old ones out of the window: gap 0.005.
    _write_performance(store, [(f"2024-02-0{d}", 0.200, 0.195) for d in range(1, 5)])
    cursor, _ = tick(cursor)
    assert len(receiver.payloads) == 2 and "recovered" in receiver.payloads[1]["text"]
    table = store.query_df("SELECT kind, severity FROM ops.alerts ORDER BY created_at")
    assert table.values.tolist() == [["model_drift", "warning"], ["model_drift", "info"]]
