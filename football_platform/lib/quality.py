"""Great Expectations 1.x suites for the raw tables, run on pandas frames (no Dagster here).

Each suite is a list of expectations over a frame the warehouse gives us; the
outcome carries, per expectation, how many rows broke it and the keys of the
first offending rows, so an asset check can show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from football_platform.lib.parsing import MARKET_MAX_BOOKMAKERS, MARKET_MAX_OVERROUND_BOUNDS, OVERROUND_BOUNDS
from football_platform.lib.seasons import season_window

MATCH_KEY_COLUMNS = ["div", "season", "home_team", "away_team"]
REQUIRED_MATCH_COLUMNS = ["div", "season", "match_date", "home_team", "away_team", "fthg", "ftag", "ftr"]
MAX_OFFENDING_ROWS = 20

MATCHES_SQL = """
SELECT div, season, match_date, home_team, away_team, fthg, ftag, ftr
FROM raw.matches
"""
# One row per complete 1X2 triple (match x bookmaker x period), with its overround.
OVERROUND_SQL = """
SELECT div, season, home_team, away_team, bookmaker, period,
       SUM(1.0 / price) AS overround, MIN(price) AS min_price
FROM raw.odds
WHERE market = '1x2'
GROUP BY div, season, home_team, away_team, bookmaker, period
HAVING COUNT(*) = 3
"""
MIN_PRICE_SQL = "SELECT div, season, home_team, away_team, bookmaker, market, period, selection, price FROM raw.odds WHERE price <= 1"


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str
    success: bool
    unexpected_count: int
    offending: list[dict] = field(default_factory=list)


@dataclass
class SuiteOutcome:
    suite: str
    rows_checked: int
    results: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    def offending_frame(self) -> pd.DataFrame:
        rows = [
            {"expectation": r.expectation, "column": r.column, **row}
            for r in self.results
            if not r.success
            for row in r.offending
        ]
        return pd.DataFrame(rows)

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"expectation": r.expectation, "column": r.column, "success": r.success, "unexpected": r.unexpected_count}
                for r in self.results
            ]
        )


def result_from_goals(fthg: pd.Series, ftag: pd.Series) -> pd.Series:
    return pd.Series(np.select([fthg > ftag, fthg == ftag], ["H", "D"], "A"), index=fthg.index)


def prepare_matches(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds the derived columns the suite compares against (result from goals, season window)."""
    frame = frame.copy()
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    frame["ftr_from_goals"] = result_from_goals(frame["fthg"], frame["ftag"])
    windows = {s: season_window(s) for s in frame["season"].dropna().unique()}
    start = frame["season"].map(lambda s: pd.Timestamp(windows[s][0]) if s in windows else pd.NaT)
    end = frame["season"].map(lambda s: pd.Timestamp(windows[s][1]) if s in windows else pd.NaT)
    frame["in_season_window"] = (frame["match_date"] >= start) & (frame["match_date"] <= end)
    return frame


def prepare_overround(frame: pd.DataFrame) -> pd.DataFrame:
    """Marks each triple in or out of its bounds: the parser's bounds, wider for market maximums."""
    frame = frame.copy()
    is_max = frame["bookmaker"].isin(MARKET_MAX_BOOKMAKERS)
    low = np.where(is_max, MARKET_MAX_OVERROUND_BOUNDS[0], OVERROUND_BOUNDS[0])
    high = np.where(is_max, MARKET_MAX_OVERROUND_BOUNDS[1], OVERROUND_BOUNDS[1])
    frame["overround_in_bounds"] = (frame["overround"] >= low) & (frame["overround"] <= high)
    return frame


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, context


def matches_expectations(gx) -> list:
    e = gx.expectations
    return [
        *[e.ExpectColumnValuesToNotBeNull(column=c) for c in REQUIRED_MATCH_COLUMNS],
        e.ExpectColumnValuesToBeBetween(column="fthg", min_value=0, max_value=15),
        e.ExpectColumnValuesToBeBetween(column="ftag", min_value=0, max_value=15),
        e.ExpectColumnValuesToBeInSet(column="ftr", value_set=["H", "D", "A"]),
        e.ExpectColumnPairValuesToBeEqual(column_A="ftr", column_B="ftr_from_goals"),
        e.ExpectCompoundColumnsToBeUnique(column_list=MATCH_KEY_COLUMNS),
        e.ExpectColumnValuesToBeInSet(column="in_season_window", value_set=[True]),
    ]


def overround_expectations(gx) -> list:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeBetween(column="min_price", min_value=1.0, strict_min=True),
        # Plainly wrong triples exist in the real files (flagged at ingestion; Interwetten's 2000-06 margins run
        # 1.15-1.25): warn when more than 1% of triples are out of bounds, and always list the offenders.
        e.ExpectColumnValuesToBeInSet(column="overround_in_bounds", value_set=[True], mostly=0.99),
    ]


def run_suite(name: str, frame: pd.DataFrame, expectations_for, key_columns: list[str]) -> SuiteOutcome:
    """Validate ``frame`` with the expectations ``expectations_for(gx)`` builds."""
    gx, context = _context()
    source = context.data_sources.add_pandas(f"{name}_source")
    batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations_for(gx):
        suite.add_expectation(expectation)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    validation = batch.validate(
        suite,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": key_columns},
    )
    results = []
    for result in validation.results:
        kwargs = result.expectation_config.kwargs
        column = kwargs.get("column") or kwargs.get("column_A") or ",".join(kwargs.get("column_list", []))
        offending = list(result.result.get("unexpected_index_list") or [])[:MAX_OFFENDING_ROWS]
        results.append(
            ExpectationOutcome(
                expectation=result.expectation_config.type,
                column=str(column),
                success=bool(result.success),
                unexpected_count=int(result.result.get("unexpected_count") or 0),
                offending=[{k: (str(v) if v is not None else None) for k, v in row.items()} for row in offending],
            )
        )
    return SuiteOutcome(suite=name, rows_checked=len(frame), results=results)


def validate_matches(frame: pd.DataFrame) -> SuiteOutcome:
    return run_suite("raw_matches", prepare_matches(frame), matches_expectations, MATCH_KEY_COLUMNS)


def validate_overround(frame: pd.DataFrame) -> SuiteOutcome:
    return run_suite("raw_odds_1x2", prepare_overround(frame), overround_expectations, [*MATCH_KEY_COLUMNS, "bookmaker", "period"])
