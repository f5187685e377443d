"""Loading season files into the warehouse: exact counts, idempotence, corrections, and rejection that changes nothing."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from football_platform.lib.loading import ingest_results, load_fixtures, load_results
from football_platform.lib.parsing import SourceFileRejected
from football_platform.lib.sources import DirectorySource, SourceFile
from football_platform.lib.warehouse import Warehouse
from tests.conftest import season_files


def _count(warehouse: Warehouse, sql: str, params=None) -> int:
    return int(warehouse.query_df(sql, params).iloc[0, 0])


def _ingest_all(warehouse: Warehouse, source: DirectorySource, files: list[dict[str, str]]):
    return [ingest_results(warehouse, source, row["season"], row["div"]) for row in files]


def test_full_history_twice_on_duckdb_and_postgres(warehouse: Warehouse, football_data_dir: Path):
    """Every season file lands with its manifest count; the second run inserts and updates nothing."""
    files = season_files()
    if warehouse.kind == "postgres":
        # PostgreSQL gets two full leagues across every era: the same code path, a fraction of the time.
        files = [row for row in files if row["div"] in ("E0", "SP1")]
    source = DirectorySource(football_data_dir)
    first = _ingest_all(warehouse, source, files)
    assert [o.status for o in first] == ["loaded"] * len(files)
    for outcome, row in zip(first, files, strict=True):
        assert outcome.rows == int(row["rows"]), outcome.name
        assert outcome.inserted == int(row["rows"]), outcome.name
    expected = sum(int(row["rows"]) for row in files)
    assert _count(warehouse, "SELECT COUNT(*) FROM raw.matches") == expected
    assert _count(warehouse, "SELECT COUNT(*) FROM raw.odds") > expected  # many prices per match

    second = _ingest_all(warehouse, source, files)
    assert sum(o.inserted for o in second) == 0
    assert sum(o.updated for o in second) == 0
    assert sum(o.unchanged for o in second) == expected
    assert _count(warehouse, "SELECT COUNT(*) FROM raw.matches") == expected



def test_same_fixtures_snapshot_twice_changes_nothing(warehouse: Warehouse, football_data_dir: Path):
    """A re-run of the pipeline loads the same snapshot again: every row unchanged, no error on either engine."""
    fixtures = DirectorySource(football_data_dir).fetch_fixtures().file
    assert fixtures is not None
    first = load_fixtures(warehouse, fixtures, None)
    assert first.inserted == first.rows > 0
    second = load_fixtures(warehouse, fixtures, None)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, first.rows)
    assert _count(warehouse, "SELECT COUNT(*) FROM raw.fixtures") == first.rows

def test_a_fixture_listed_again_belongs_to_the_newer_snapshot(warehouse: Warehouse, football_data_dir: Path):
    """Consecutive lists overlap: a fixture unchanged since yesterday's list is still upcoming in today's."""
    content = (football_data_dir / "fixtures" / "2026-01-30" / "fixtures.csv").read_bytes()
    older = SourceFile("fixtures/2026-01-29/fixtures.csv", content, snapshot_date=dt.date(2026, 1, 29))
    newer = SourceFile("fixtures/2026-01-30/fixtures.csv", content, snapshot_date=dt.date(2026, 1, 30))
    first = load_fixtures(warehouse, older, ["E0"])
    again = load_fixtures(warehouse, newer, ["E0"])
    assert first.rows > 0 and (again.inserted, again.updated, again.unchanged) == (0, 0, first.rows)
    for table in ("raw.fixtures", "raw.fixture_odds"):
        dates = warehouse.query_df(f"SELECT DISTINCT snapshot_date, source_file FROM {table}")
        assert [pd.Timestamp(d).date() for d in dates["snapshot_date"]] == [dt.date(2026, 1, 30)], table
        assert dates["source_file"].tolist() == ["fixtures/2026-01-30/fixtures.csv"], table


def _copy_season(football_data_dir: Path, tmp_path: Path, season: str, div: str) -> Path:
    root = tmp_path / "mirror"
    (root / season).mkdir(parents=True)
    shutil.copy(football_data_dir / season / f"{div}.csv", root / season / f"{div}.csv")
    return root


def test_corrected_cell_updates_exactly_that_row(warehouse: Warehouse, football_data_dir: Path, tmp_path: Path):
    root = _copy_season(football_data_dir, tmp_path, "2324", "E0")
    source = DirectorySource(root)
    assert ingest_results(warehouse, source, "2324", "E0").inserted == 380

    path = root / "2324" / "E0.csv"
    lines = path.read_bytes().split(b"\n")
    # Line 2 is Burnley v Man City (0-3); the site "corrects" the home shots from 6 to 7.
    fields = lines[1].split(b",")
    assert fields[3:5] == [b"Burnley", b"Man City"] and fields[12] == b"6"
    fields[12] = b"7"
    lines[1] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))

    outcome = ingest_results(warehouse, source, "2324", "E0")
    assert (outcome.inserted, outcome.updated, outcome.unchanged) == (0, 1, 379)
    shots = warehouse.query_df(
        "SELECT home_shots, source_sha256 FROM raw.matches WHERE season = '2324' AND home_team = 'Burnley' "
        "AND away_team = 'Man City'"
    )
    assert int(shots.iloc[0]["home_shots"]) == 7
    assert shots.iloc[0]["source_sha256"] == outcome.sha256


def test_corrected_odds_update_the_match_and_its_prices(warehouse: Warehouse, football_data_dir: Path, tmp_path: Path):
    root = _copy_season(football_data_dir, tmp_path, "2324", "E0")
    source = DirectorySource(root)
    ingest_results(warehouse, source, "2324", "E0")
    path = root / "2324" / "E0.csv"
    text = path.read_bytes().decode()
    header, first, rest = text.split("\n", 2)
    columns = header.rstrip("\r").split(",")
    fields = first.split(",")
    fields[columns.index("B365H")] = "8.5"
    path.write_bytes("\n".join([header, ",".join(fields), rest]).encode())

    outcome = ingest_results(warehouse, source, "2324", "E0")
    assert (outcome.updated, outcome.unchanged) == (1, 379)
    price = warehouse.query_df(
        "SELECT price FROM raw.odds WHERE season = '2324' AND home_team = 'Burnley' AND away_team = 'Man City' "
        "AND bookmaker = 'B365' AND market = '1x2' AND period = 'pre' AND selection = 'H'"
    )
    assert price["price"].tolist() == [8.5]


def test_removed_row_is_kept_and_reported(warehouse: Warehouse, football_data_dir: Path, tmp_path: Path):
    root = _copy_season(football_data_dir, tmp_path, "2324", "E0")
    source = DirectorySource(root)
    ingest_results(warehouse, source, "2324", "E0")
    path = root / "2324" / "E0.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:1] + lines[2:]))  # drop Burnley v Man City

    outcome = ingest_results(warehouse, source, "2324", "E0")
    assert outcome.rows == 379
    assert outcome.missing_from_source == 1
    assert _count(warehouse, "SELECT COUNT(*) FROM raw.matches WHERE season = '2324'") == 380


def test_rejected_file_leaves_the_warehouse_as_it_was(warehouse: Warehouse, football_data_dir: Path, tmp_path: Path):
    root = _copy_season(football_data_dir, tmp_path, "2324", "E0")
    source = DirectorySource(root)
    ingest_results(warehouse, source, "2324", "E0")
    before = warehouse.query_df("SELECT * FROM raw.matches ORDER BY home_team, away_team")
    odds_before = _count(warehouse, "SELECT COUNT(*) FROM raw.odds")

    (root / "2324" / "E0.csv").write_bytes(b"<html><body>503 Service Unavailable</body></html>")
    outcome = ingest_results(warehouse, source, "2324", "E0")
    assert outcome.status == "rejected"
    assert "2324/E0.csv" in outcome.reason
    after = warehouse.query_df("SELECT * FROM raw.matches ORDER BY home_team, away_team")
    assert after.equals(before)
    assert _count(warehouse, "SELECT COUNT(*) FROM raw.odds") == odds_before
    # The rejection itself is recorded, with its reason.
    reasons = warehouse.query_df("SELECT reason FROM raw.rejected_rows WHERE source_file = '2324/E0.csv'")
    assert len(reasons) == 1 and reasons.iloc[0]["reason"].startswith("file rejected")
    # ... and the known-good version stays the reference for the next conditional fetch.
    status = warehouse.query_df("SELECT status, rows FROM raw.source_files WHERE source_file = '2324/E0.csv'")
    assert status.iloc[0]["status"] == "loaded" and int(status.iloc[0]["rows"]) == 380


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x01\x02\x03binary\xff\xfe",
        b"Div,Date,HomeTeam,AwayTeam\nE0,11/08/2023,Burnley,Man City\n",  # no score columns
        # month-first dates: 08/13/2023 cannot be day-first
        b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\nE0,08/13/2023,Burnley,Man City,0,3,A\n"
        b"E0,08/19/2023,Arsenal,Fulham,2,1,H\n",
        # the same match twice with different scores
        b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\nE0,13/08/2023,Burnley,Man City,0,3,A\n"
        b"E0,13/08/2023,Burnley,Man City,1,3,A\n",
    ],
    ids=["empty", "binary", "missing-scores", "month-first", "conflicting-duplicates"],
)
def test_malformed_files_are_rejected_whole(duckdb_warehouse: Warehouse, content: bytes):
    with pytest.raises(SourceFileRejected) as info:
        load_results(duckdb_warehouse, SourceFile("2324/E0.csv", content), "2324", "E0")
    assert "2324/E0.csv" in str(info.value)
    assert "\n" not in str(info.value)
    assert not duckdb_warehouse.table_exists("raw", "matches") or _count(
        duckdb_warehouse, "SELECT COUNT(*) FROM raw.matches"
    ) == 0


def test_bad_rows_go_to_rejected_rows_and_good_rows_land(duckdb_warehouse: Warehouse):
    content = (
        b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A\r\n"
        b"E0,13/08/2023,Burnley,Man City,0,3,A,8,5.5,1.33\r\n"
        b"E0,14/08/2023,Arsenal,Fulham,x,1,H,1.5,4,6\r\n"  # non-numeric goals: row rejected
        b"E0,15/08/2023,Chelsea,Luton,2,1,H,0.9,4,6\r\n"  # odds <= 1: price rejected, match kept
    )
    outcome = load_results(duckdb_warehouse, SourceFile("2324/E0.csv", content), "2324", "E0")
    assert outcome.inserted == 2
    rejected = duckdb_warehouse.query_df(
        "SELECT source_line, column_name, value, reason FROM raw.rejected_rows ORDER BY source_line"
    )
    assert rejected["source_line"].tolist() == [3, 4]
    assert rejected["column_name"].tolist() == ["FTHG", "B365H"]
    prices = duckdb_warehouse.query_df(
        "SELECT selection FROM raw.odds WHERE home_team = 'Chelsea' AND bookmaker = 'B365' ORDER BY selection"
    )
    assert prices["selection"].tolist() == ["A", "D"]
