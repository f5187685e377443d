"""Great Expectations suites as asset checks on ``raw_matches``.

The match suite is blocking: if the raw data is wrong, nothing downstream (dbt,
features, training) should run on it. The overround suite only warns: a few
bookmaker triples are plainly wrong in the real files, and they are flagged.
"""


import dagster as dg

from football_platform.defs.common.metadata import table_preview
from football_platform.lib.quality import MATCHES_SQL, OVERROUND_SQL, SuiteOutcome, validate_matches, validate_overround
from football_platform.resources import WarehouseResource


def _check_result(outcome: SuiteOutcome, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    offending = outcome.offending_frame()
    failed = [r for r in outcome.results if not r.success]
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=severity,
        description=(
            f"{outcome.suite}: all {len(outcome.results)} expectations met on {outcome.rows_checked} rows"
            if outcome.success
            else f"{outcome.suite}: {len(failed)} expectation(s) failed: "
            + "; ".join(f"{r.expectation}({r.column}) x{r.unexpected_count}" for r in failed)
        ),
        metadata={
            "rows_checked": outcome.rows_checked,
            "expectations": table_preview(outcome.summary_frame(), rows=len(outcome.results)),
            "offending_rows": table_preview(offending, rows=len(offending), empty="_none_"),
            "unexpected_total": sum(r.unexpected_count for r in outcome.results),
        },
    )


@dg.asset_check(
    asset="raw_matches",
    name="raw_matches_expectations",
    blocking=True,
    description=(
        "Great Expectations suite on raw.matches: required columns non-null, goals within 0..15, result consistent "
        "with goals, unique natural key (div, season, home_team, away_team), dates inside the season window."
    ),
)
def raw_matches_expectations(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().query_df(MATCHES_SQL)
    return _check_result(validate_matches(frame), dg.AssetCheckSeverity.ERROR)


@dg.asset_check(
    asset="raw_matches",
    name="raw_odds_overround",
    blocking=False,
    description=(
        "Every stored 1X2 price is > 1, and bookmaker triples have an overround (1/H + 1/D + 1/A) within "
        "[1.0, 1.15] for at least 99.5% of triples. Warns; the offending triples are listed."
    ),
)
def raw_odds_overround(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().query_df(OVERROUND_SQL)
    return _check_result(validate_overround(frame), dg.AssetCheckSeverity.WARN)
