"""Sensors by concern: new source data (:mod:`.source`), run and check failures (:mod:`.alerts`), model drift
(:mod:`.drift`), and the daily predictions after each collection (:mod:`.chaining`)."""

from football_platform.defs.automation.sensors.alerts import (
    asset_check_alert_sensor,
    check_failure_alert,
    new_check_executions,
    run_failure_alert_sensor,
)
from football_platform.defs.automation.sensors.chaining import daily_predictions_sensor
from football_platform.defs.automation.sensors.drift import model_drift_sensor
from football_platform.defs.automation.sensors.source import new_source_data_sensor

__all__ = [
    "asset_check_alert_sensor",
    "check_failure_alert",
    "daily_predictions_sensor",
    "model_drift_sensor",
    "new_check_executions",
    "new_source_data_sensor",
    "run_failure_alert_sensor",
]
