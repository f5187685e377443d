"""Alerts for on-call: Slack-compatible webhook payloads, delivery that never raises, and the ``ops.alerts`` log.

No Dagster here: sensors build an :class:`Alert`, call :func:`deliver` (which
turns every network problem into a :class:`Delivery` with an error string
instead of an exception, so a flaky webhook never fails a sensor tick or a run)
and :func:`record_alerts` into the warehouse. Alert ids are deterministic (a
hash of what the alert is about), so a sensor tick that is retried after a crash
records the same alert once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import pandas as pd

from football_platform.lib.ops_tables import insert_frame
from football_platform.lib.warehouse import Warehouse

SEVERITIES = ("info", "warning", "error")
_EMOJI = {"info": ":information_source:", "warning": ":warning:", "error": ":rotating_light:"}
# Slack truncates section text at 3,000 characters; keep messages well under it.
_MAX_TEXT = 2_900

ALERTS_COLUMNS: dict[str, str] = {
    "alert_id": "VARCHAR(32) NOT NULL PRIMARY KEY",
    "kind": "VARCHAR NOT NULL",  # 'run_failure' | 'check_failure' | 'model_drift' | ...
    "severity": "VARCHAR NOT NULL",  # 'info' | 'warning' | 'error'
    "asset_key": "VARCHAR",
    "check_name": "VARCHAR",
    "run_id": "VARCHAR",
    "message": "VARCHAR NOT NULL",
    "created_at": "TIMESTAMP WITH TIME ZONE NOT NULL",
    "delivered": "BOOLEAN NOT NULL",
    "delivery_error": "VARCHAR",
}
ALERTS_DDL: list[str] = [
    "CREATE SCHEMA IF NOT EXISTS ops",
    "CREATE TABLE IF NOT EXISTS ops.alerts (\n    "
    + ",\n    ".join(f'"{name}" {sql_type}' for name, sql_type in ALERTS_COLUMNS.items())
    + "\n)",
]


@dataclass(frozen=True)
class Alert:
    """Something on-call should look at. ``dedupe_key`` says what makes two alerts the same alert."""

    kind: str
    severity: str
    title: str
    message: str
    dedupe_key: str
    asset_key: str | None = None
    check_name: str | None = None
    run_id: str | None = None
    link: str | None = None  # e.g. the run's page in the Dagster UI
    fields: dict[str, str] = field(default_factory=dict)  # short facts shown as a table in Slack
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.created_at.tzinfo is None:
            raise ValueError("alert created_at must be timezone-aware (UTC)")

    @property
    def alert_id(self) -> str:
        return hashlib.sha256(f"{self.kind}|{self.dedupe_key}".encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        data = dict(data)
        data["created_at"] = dt.datetime.fromisoformat(data["created_at"])
        return cls(**data)


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    error: str | None = None
    status_code: int | None = None


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` for notifications, ``blocks`` for the layout.

    Plain-text receivers (and Mattermost/Rocket.Chat, which accept the same shape)
    still get a complete message from ``text`` alone.
    """
    headline = f"{_EMOJI[alert.severity]} [{alert.severity.upper()}] {alert.title}"
    facts = {
        "kind": alert.kind,
        **({"asset": alert.asset_key} if alert.asset_key else {}),
        **({"check": alert.check_name} if alert.check_name else {}),
        **({"run": alert.run_id} if alert.run_id else {}),
        **alert.fields,
    }
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(f"[{alert.severity.upper()}] {alert.title}", 150)},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(alert.message)}},
    ]
    if facts:
        # Slack allows at most 10 fields per section.
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*{k}*\n{v}", 2_000)} for k, v in list(facts.items())[:10]
                ],
            }
        )
    if alert.link:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{alert.link}|Open in Dagster>"}]})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{alert.created_at.isoformat()} · id {alert.alert_id}"}],
        }
    )
    return {"text": _clip(f"{headline}\n{alert.message}"), "blocks": blocks}


def post_webhook(
    url: str | None,
    payload: dict[str, Any],
    timeout_seconds: float = 10.0,
    client: httpx.Client | None = None,
) -> Delivery:
    """POST ``payload`` as JSON. Never raises: every failure comes back as ``Delivery(False, error)``."""
    if not url:
        return Delivery(False, "no webhook configured (FOOTBALL_ALERT_WEBHOOK_URL)")
    try:
        if client is not None:
            response = client.post(url, json=payload, timeout=timeout_seconds)
        else:
            with httpx.Client(timeout=timeout_seconds) as own:
                response = own.post(url, json=payload)
    except httpx.TimeoutException:
        return Delivery(False, f"webhook timed out after {timeout_seconds:g}s")
    except httpx.HTTPError as exc:
        return Delivery(False, f"webhook unreachable: {type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - an alert path must never take the caller down
        return Delivery(False, f"webhook error: {type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return Delivery(True, None, response.status_code)
    body = response.text[:200].replace("\n", " ")
    return Delivery(False, f"webhook answered HTTP {response.status_code}: {body}", response.status_code)


def deliver(alert: Alert, url: str | None, timeout_seconds: float = 10.0) -> Delivery:
    return post_webhook(url, slack_payload(alert), timeout_seconds)


def ensure_alerts_table(warehouse: Warehouse) -> None:
    with warehouse.connect() as conn, conn.transaction():
        for statement in ALERTS_DDL:
            conn.execute(statement)


def alert_rows(pairs: Iterable[tuple[Alert, Delivery]]) -> pd.DataFrame:
    """The ``ops.alerts`` rows for delivered (or not) alerts, one per alert id."""
    rows = []
    seen: set[str] = set()
    for alert, delivery in pairs:
        if alert.alert_id in seen:
            continue
        seen.add(alert.alert_id)
        rows.append(
            {
                "alert_id": alert.alert_id,
                "kind": alert.kind,
                "severity": alert.severity,
                "asset_key": alert.asset_key,
                "check_name": alert.check_name,
                "run_id": alert.run_id,
                "message": f"{alert.title}: {alert.message}",
                "created_at": pd.Timestamp(alert.created_at).tz_convert("UTC"),
                "delivered": bool(delivery.delivered),
                "delivery_error": delivery.error,
            }
        )
    return pd.DataFrame(rows, columns=list(ALERTS_COLUMNS))


def record_alerts(warehouse: Warehouse, pairs: Sequence[tuple[Alert, Delivery]]) -> int:
    """Insert alerts into ``ops.alerts`` (creating it if missing); an id already there is left alone.

    Returns how many rows were new. Raises on warehouse errors: the caller
    decides whether to retry later (sensors keep unrecorded alerts in their cursor).
    """
    frame = alert_rows(pairs)
    if frame.empty:
        return 0
    with warehouse.connect() as conn, conn.transaction():
        for statement in ALERTS_DDL:
            conn.execute(statement)
        known = conn.query_df(
            f"SELECT alert_id FROM ops.alerts WHERE alert_id IN ({', '.join('?' for _ in frame.index)})",
            frame["alert_id"].tolist(),
        )
        fresh = frame[~frame["alert_id"].isin(set(known["alert_id"]))]
        insert_frame(conn, "ops.alerts", fresh)
    return len(fresh)


def dumps_pending(pairs: Sequence[tuple[Alert, Delivery]]) -> list[dict[str, Any]]:
    """Alerts not yet in ``ops.alerts``, in a JSON-able form for a sensor cursor."""
    return [{"alert": a.to_json(), "delivery": asdict(d)} for a, d in pairs]


def loads_pending(items: Iterable[dict[str, Any]]) -> list[tuple[Alert, Delivery]]:
    return [(Alert.from_json(item["alert"]), Delivery(**item["delivery"])) for item in items]
