"""The ``alerts`` resource: where alerts go, and the one place that delivers and records them."""

from __future__ import annotations

import time
from collections.abc import Sequence

import dagster as dg

from football_platform.lib.alerts import Alert, Delivery, deliver, record_alerts
from football_platform.lib.warehouse import Warehouse
from football_platform.resources.secrets import resolved, secret
from football_platform.settings import Settings


class AlertsResource(dg.ConfigurableResource):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, or any JSON receiver).

    Without a URL alerts are still recorded in ``ops.alerts`` (``delivered = false``),
    so a local run shows what would have been sent.
    """

    webhook_url: str | None = None  # EnvVar('FOOTBALL_ALERT_WEBHOOK_URL') when set there
    timeout_seconds: float = 10.0
    ui_base_url: str | None = None  # e.g. 'http://dagster.internal:3000', for links to runs
    record_attempts: int = 3  # DuckDB admits one writer: wait a little for a busy warehouse, then defer

    def run_link(self, run_id: str | None) -> str | None:
        if not (self.ui_base_url and run_id):
            return None
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}"

    def send(self, alerts: Sequence[Alert]) -> list[tuple[Alert, Delivery]]:
        """Post every alert; never raises (failures are in each :class:`Delivery`)."""
        return [(alert, deliver(alert, resolved(self.webhook_url), self.timeout_seconds)) for alert in alerts]

    def record(
        self, warehouse: Warehouse, pairs: Sequence[tuple[Alert, Delivery]], log=None
    ) -> list[tuple[Alert, Delivery]]:
        """Write to ``ops.alerts``; returns the pairs that could not be written (to retry on the next tick)."""
        if not pairs:
            return []
        error: Exception | None = None
        for attempt in range(max(1, self.record_attempts)):
            try:
                record_alerts(warehouse, pairs)
                return []
            except Exception as exc:  # noqa: BLE001 - a busy or unreachable warehouse must not lose the alert
                error = exc
                time.sleep(min(0.5 * 2**attempt, 4.0))
        if log is not None:
            log.warning(f"could not record {len(pairs)} alert(s) in ops.alerts ({warehouse.describe()}): {error}")
        return list(pairs)


def alerts_resource(settings: Settings) -> AlertsResource:
    return AlertsResource(webhook_url=secret(settings, "alert_webhook_url"))
