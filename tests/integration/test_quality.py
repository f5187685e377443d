"""Great Expectations suites on real raw tables, and as blocking Dagster asset checks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from football_platform.defs.ingestion.assets import build_raw_matches
from football_platform.defs.quality.checks import raw_matches_expectations, raw_odds_overround
from football_platform.lib.loading import ingest_many
from football_platform.lib.quality import MATCHES_SQL, OVERROUND_SQL, validate_matches, validate_overround
from football_platform.lib.sources import DirectorySource
from football_platform.lib.warehouse import Warehouse
from football_platform.resources import FootballDataSourceResource, WarehouseResource


def _load(warehouse: Warehouse, football_data_dir: Path) -> None:
    ingest_many(warehouse, DirectorySource(football_data_dir), [("2223", "E0"), ("2324", "E0")])


def test_real_data_passes_and_a_broken_row_is_named(duckdb_warehouse: Warehouse, football_data_dir: Path):
    _load(duckdb_warehouse, football_data_dir)
    clean = validate_matches(duckdb_warehouse.query_df(MATCHES_SQL))
    assert clean.success and clean.rows_checked == 760

    with duckdb_warehouse.connect() as conn:
        conn.execute("UPDATE raw.matches SET fthg = 21 WHERE season = '2324' AND home_team = 'Arsenal' "
                     "AND away_team = 'Chelsea'")
        conn.execute("UPDATE raw.matches SET match_date = DATE '2021-01-01' WHERE season = '2223' "
                     "AND home_team = 'Fulham' AND away_team = 'Arsenal'")
    broken = validate_matches(duckdb_warehouse.query_df(MATCHES_SQL))
    assert not broken.success
    failed = {(r.expectation, r.column): r for r in broken.results if not r.success}
    goals = failed[("expect_column_values_to_be_between", "fthg")]
    assert goals.unexpected_count == 1 and goals.offending[0]["home_team"] == "Arsenal"
    window = failed[("expect_column_values_to_be_in_set", "in_season_window")]
    assert window.offending[0]["home_team"] == "Fulham" and window.offending[0]["season"] == "2223"
    offending = broken.offending_frame()
    assert {"expectation", "column", "home_team", "away_team"} <= set(offending.columns)


def test_overround_suite_lists_out_of_bounds_triples(duckdb_warehouse: Warehouse, football_data_dir: Path):
    _load(duckdb_warehouse, football_data_dir)
    outcome = validate_overround(duckdb_warehouse.query_df(OVERROUND_SQL))
    assert outcome.success  # recent EPL books stay within bounds on >= 99% of triples
    with duckdb_warehouse.connect() as conn:
        # A bookmaker quoting 1.5 on all three outcomes: overround 2.0.
        conn.execute("UPDATE raw.odds SET price = 1.5 WHERE market = '1x2' AND period = 'pre' AND bookmaker = 'B365'")
    broken = validate_overround(duckdb_warehouse.query_df(OVERROUND_SQL))
    assert not broken.success
    assert broken.offending_frame()["bookmaker"].eq("B365").all()


def test_blocking_check_runs_with_the_asset_in_dagster(tmp_path: Path, football_data_dir: Path):
    resources = {
        "warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(tmp_path / "w.duckdb")),
        "football_source": FootballDataSourceResource(location=str(football_data_dir), leagues=["E0"]),
    }
    result = dg.materialize(
        [build_raw_matches(), raw_matches_expectations, raw_odds_overround],
        resources=resources,
        partition_key="2324",
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["raw_matches_expectations"].passed
    assert evaluations["raw_matches_expectations"].metadata["rows_checked"].value == 380
    materialization = result.get_asset_materialization_events()[0].materialization
    assert materialization.metadata["inserted"].value == 380
    assert materialization.metadata["date_min"].value == "2023-08-11"
