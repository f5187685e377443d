"""DDL of the warehouse's ``raw`` schema: what ingestion writes and dbt reads.

The same statements run on DuckDB (local profile) and PostgreSQL (prod), so only
types both understand are used. Natural key of a match: (div, season, home_team,
away_team) — each pair meets once at each ground per league season, and a
postponed match keeps its key while its date changes.
"""

from __future__ import annotations

from football_platform.contracts import MATCH_KEY

# Match facts, one row per match. Team names are the site's own spelling; dbt's
# staging layer maps them to canonical names through the team_aliases seed.
MATCH_STAT_COLUMNS: dict[str, str] = {
    "hthg": "INTEGER",  # half-time goals, missing in early seasons
    "htag": "INTEGER",
    "htr": "VARCHAR(1)",
    "referee": "VARCHAR",
    "attendance": "INTEGER",
    "home_shots": "INTEGER",
    "away_shots": "INTEGER",
    "home_shots_on_target": "INTEGER",
    "away_shots_on_target": "INTEGER",
    "home_hit_woodwork": "INTEGER",
    "away_hit_woodwork": "INTEGER",
    "home_corners": "INTEGER",
    "away_corners": "INTEGER",
    "home_fouls": "INTEGER",
    "away_fouls": "INTEGER",
    "home_offsides": "INTEGER",
    "away_offsides": "INTEGER",
    "home_yellow": "INTEGER",
    "away_yellow": "INTEGER",
    "home_red": "INTEGER",
    "away_red": "INTEGER",
}


MATCH_COLUMNS: dict[str, str] = {
    "div": "VARCHAR NOT NULL",
    "season": "VARCHAR(4) NOT NULL",
    "match_date": "DATE NOT NULL",
    "kickoff_time": "VARCHAR(5)",  # 'HH:MM' UK time, present from 2019/20
    "home_team": "VARCHAR NOT NULL",
    "away_team": "VARCHAR NOT NULL",
    "fthg": "INTEGER NOT NULL",
    "ftag": "INTEGER NOT NULL",
    "ftr": "VARCHAR(1) NOT NULL",
    **MATCH_STAT_COLUMNS,
}

# Odds in long form: one row per (match, bookmaker, market, period, selection)
# keeps every bookmaker and market without a column per (book x market x period).
# ODDS_KEY is unique by construction (the parser emits each price once and a match's
# odds are replaced as a whole), and tested by the quality suite and dbt; it is not a
# PRIMARY KEY because a 2.5M-row, 8-column index costs DuckDB more than the whole load.
ODDS_KEY = ("div", "season", "home_team", "away_team", "bookmaker", "market", "period", "selection")
ODDS_COLUMNS: dict[str, str] = {
    "div": "VARCHAR NOT NULL",
    "season": "VARCHAR(4) NOT NULL",
    "home_team": "VARCHAR NOT NULL",
    "away_team": "VARCHAR NOT NULL",
    "bookmaker": "VARCHAR NOT NULL",  # site prefix: B365, PS, Avg, Max, BbAv, BbMx, WH, ...
    "market": "VARCHAR NOT NULL",  # '1x2' | 'ou25' | 'ah'
    "period": "VARCHAR NOT NULL",  # 'pre' (known before kick-off) | 'close'
    "selection": "VARCHAR NOT NULL",  # 'H','D','A' | 'over','under' | 'home','away'
    "line": "DOUBLE PRECISION",  # 2.5 for ou25, handicap for ah, NULL for 1x2
    "price": "DOUBLE PRECISION NOT NULL",  # decimal odds, > 1
    "flag": "VARCHAR",  # e.g. 'overround_out_of_range': kept, but not to be trusted
}

FIXTURE_KEY = ("div", "home_team", "away_team", "match_date")
FIXTURE_COLUMNS: dict[str, str] = {
    "div": "VARCHAR NOT NULL",
    "match_date": "DATE NOT NULL",
    "kickoff_time": "VARCHAR(5)",
    "home_team": "VARCHAR NOT NULL",
    "away_team": "VARCHAR NOT NULL",
}
FIXTURE_ODDS_KEY = ("div", "home_team", "away_team", "match_date", "bookmaker", "market", "period", "selection")
FIXTURE_ODDS_COLUMNS: dict[str, str] = {
    "div": "VARCHAR NOT NULL",
    "match_date": "DATE NOT NULL",
    "home_team": "VARCHAR NOT NULL",
    "away_team": "VARCHAR NOT NULL",
    **{k: v for k, v in ODDS_COLUMNS.items() if k not in ("div", "season", "home_team", "away_team")},
}

LOAD_COLUMNS: dict[str, str] = {
    "source_file": "VARCHAR NOT NULL",  # e.g. '2324/E0.csv' or 'fixtures/2026-01-30/fixtures.csv'
    "source_sha256": "VARCHAR(64) NOT NULL",
    "source_line": "INTEGER",  # 1-based physical line in the file (header is line 1)
    "row_hash": "VARCHAR(32) NOT NULL",  # md5 of the business columns: detects updated vs unchanged
    "ingested_at": "TIMESTAMP WITH TIME ZONE NOT NULL",
    "updated_at": "TIMESTAMP WITH TIME ZONE NOT NULL",
}


def _create_table(name: str, columns: dict[str, str], key: tuple[str, ...] | None) -> str:
    body = ",\n    ".join(f'"{col}" {typ}' for col, typ in columns.items())
    if key is None:
        return f"CREATE TABLE IF NOT EXISTS {name} (\n    {body}\n)"
    pk = ", ".join(f'"{col}"' for col in key)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n    {body},\n    PRIMARY KEY ({pk})\n)"


RAW_DDL: list[str] = [
    "CREATE SCHEMA IF NOT EXISTS raw",
    _create_table("raw.matches", {**MATCH_COLUMNS, **LOAD_COLUMNS}, MATCH_KEY),
    _create_table(
        "raw.odds",
        {**ODDS_COLUMNS, "source_file": "VARCHAR NOT NULL", "source_sha256": "VARCHAR(64) NOT NULL",
         "ingested_at": "TIMESTAMP WITH TIME ZONE NOT NULL"},
        None,
    ),
    _create_table(
        "raw.fixtures",
        {**FIXTURE_COLUMNS, "snapshot_date": "DATE NOT NULL", **LOAD_COLUMNS},
        FIXTURE_KEY,
    ),
    _create_table(
        "raw.fixture_odds",
        {**FIXTURE_ODDS_COLUMNS, "snapshot_date": "DATE NOT NULL", "source_file": "VARCHAR NOT NULL",
         "ingested_at": "TIMESTAMP WITH TIME ZONE NOT NULL"},
        None,
    ),
    # Rows that failed validation: kept with their reason, never written over a good row.
    """CREATE TABLE IF NOT EXISTS raw.rejected_rows (
    "source_file" VARCHAR NOT NULL,
    "source_sha256" VARCHAR(64),
    "source_line" INTEGER,
    "column_name" VARCHAR,
    "value" VARCHAR,
    "reason" VARCHAR NOT NULL,
    "rejected_at" TIMESTAMP WITH TIME ZONE NOT NULL
)""",
    # One row per source file ever seen: lets unchanged files be skipped and files be audited.
    """CREATE TABLE IF NOT EXISTS raw.source_files (
    "source_file" VARCHAR NOT NULL PRIMARY KEY,
    "div" VARCHAR,
    "season" VARCHAR(4),
    "sha256" VARCHAR(64) NOT NULL,
    "etag" VARCHAR,
    "last_modified" VARCHAR,
    "rows" INTEGER NOT NULL,
    "status" VARCHAR NOT NULL,
    "reason" VARCHAR,
    "ingested_at" TIMESTAMP WITH TIME ZONE NOT NULL
)""",
]

# Lookups by match for the odds tables: PostgreSQL needs an index; DuckDB's zone maps suffice.
POSTGRES_INDEXES: list[str] = [
    'CREATE INDEX IF NOT EXISTS odds_match_idx ON raw.odds ("div", "season", "home_team", "away_team")',
    'CREATE INDEX IF NOT EXISTS fixture_odds_match_idx ON raw.fixture_odds ("div", "home_team", "away_team")',
]
