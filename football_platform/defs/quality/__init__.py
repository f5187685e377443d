"""Quality domain: Great Expectations suites as asset checks."""

import dagster as dg

from football_platform.defs.quality.checks import raw_matches_expectations, raw_odds_overround

defs = dg.Definitions(asset_checks=[raw_matches_expectations, raw_odds_overround])
