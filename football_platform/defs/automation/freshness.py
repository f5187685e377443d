"""Freshness checks: raw results during the season, online features, the production model.

Built with ``dg.build_last_update_freshness_checks`` and evaluated by
``dg.build_sensor_for_freshness_checks``. Dagster 1.13 marks both as superseded by
``FreshnessPolicy`` on the asset, but policies live on the assets (other teams'
files) and their state is not an asset check: these checks feed the same
check-failure alerts and health report as every other check, in open source.
Rules for assets that are not defined (yet) are skipped, so definitions validate.
"""

import datetime as dt
import warnings
from dataclasses import dataclass

import dagster as dg

from football_platform.defs.automation.catalog import Catalog

FRESHNESS_CHECK_NAME = "freshness_check"  # the name dagster gives every last-update freshness check


@dataclass(frozen=True)
class FreshnessRule:
    asset: str
    lower_bound: dt.timedelta
    deadline_cron: str | None
    severity: dg.AssetCheckSeverity
    why: str


FRESHNESS_RULES: tuple[FreshnessRule, ...] = (
    FreshnessRule(
        "raw_matches",
        dt.timedelta(days=2),
        # Deadline 06:00 UTC every day from August to May: the 00:00 collection must have landed within two days.
        # In June and July the latest deadline stays 31 May, so the close season never pages anyone.
        "0 6 * 1-5,8-12 *",
        dg.AssetCheckSeverity.ERROR,
        "in season, raw results older than 2 days mean the daily collection is broken",
    ),
    FreshnessRule(
        "feast_online_materialization",
        dt.timedelta(hours=30),
        None,
        dg.AssetCheckSeverity.WARN,
        "online features are pushed nightly; 30 h allows one slow night",
    ),
    FreshnessRule(
        "production_model",
        dt.timedelta(days=8),
        None,
        dg.AssetCheckSeverity.WARN,
        "the promotion gate runs nightly; a production model older than 8 days means retraining stalled",
    ),
)


def build_freshness_checks(
    catalog: Catalog, rules: tuple[FreshnessRule, ...] = FRESHNESS_RULES
) -> list[dg.AssetChecksDefinition]:
    checks: list[dg.AssetChecksDefinition] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        for rule in rules:
            if not catalog.has(rule.asset):
                continue
            checks.extend(
                dg.build_last_update_freshness_checks(
                    assets=[rule.asset],
                    lower_bound_delta=rule.lower_bound,
                    deadline_cron=rule.deadline_cron,
                    timezone="UTC",
                    severity=rule.severity,
                )
            )
    return checks


def build_freshness_sensor(
    checks: list[dg.AssetChecksDefinition], default_status: dg.DefaultSensorStatus
) -> dg.SensorDefinition | None:
    if not checks:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name="freshness_checks_sensor",
            minimum_interval_seconds=300,
            default_status=default_status,
        )


def freshness_check_keys(checks: list[dg.AssetChecksDefinition]) -> set[dg.AssetCheckKey]:
    return {spec.key for checks_def in checks for spec in checks_def.check_specs}
