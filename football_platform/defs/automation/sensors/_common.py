"""What the alerting sensors share: their JSON cursor and the delivery of alerts (webhook + ``ops.alerts``)."""

import json
from collections.abc import Sequence
from typing import Any

from football_platform.lib.alerts import Alert, Delivery
from football_platform.resources import AlertsResource, WarehouseResource

MAX_PENDING_ALERTS = 200


def load_cursor(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def dispatch(
    alerts: AlertsResource,
    warehouse: WarehouseResource,
    new: Sequence[Alert],
    pending: Sequence[tuple[Alert, Delivery]],
    log,
) -> list[tuple[Alert, Delivery]]:
    """Deliver new alerts, write them (and earlier unwritten ones); returns what is still unwritten."""
    sent = alerts.send(new)
    for alert, delivery in sent:
        if not delivery.delivered:
            log.warning(f"alert {alert.alert_id} not delivered: {delivery.error}")
    unwritten = alerts.record(warehouse.get(), [*pending, *sent], log=log)
    return unwritten[-MAX_PENDING_ALERTS:]
