"""The feature tables in the warehouse: what the features domain reads (``analytics.fct_matches``, ``raw.odds``,
``staging.stg_fixtures``) and the tables it owns and rewrites whole (``analytics.match_features``,
``analytics.team_match_features``, ``analytics.team_state``, ``analytics.training_set``): their DDL and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from football_platform.lib.feature_rows import TEAM_ROW_COLUMNS, team_feature_rows


def sql_type(dtype: Any) -> str:
    """Column type for a pandas dtype, valid on DuckDB and PostgreSQL."""
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(dtype):
        return "DOUBLE PRECISION"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "TIMESTAMP WITH TIME ZONE"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "TIMESTAMP"
    return "VARCHAR"


def create_table_sql(table: str, frame: pd.DataFrame, date_columns: Sequence[str] = ()) -> str:
    cols = ", ".join(f'"{c}" {"DATE" if c in date_columns else sql_type(frame[c].dtype)}' for c in frame.columns)
    return f"CREATE TABLE {table} ({cols})"


MATCHES_SQL = """
SELECT match_id, div, season, match_date, kickoff_time, home_team, away_team, home_team_source, away_team_source,
       home_goals AS fthg, away_goals AS ftag, result, home_shots, away_shots, home_shots_on_target,
       away_shots_on_target, pre_p_home, pre_p_draw, pre_p_away, pre_overround, close_p_home, close_p_draw,
       close_p_away
FROM analytics.fct_matches
ORDER BY match_date, div, home_team, away_team
"""
OU_SQL = """
SELECT div, season, home_team, away_team, bookmaker, selection, price
FROM raw.odds
WHERE market = 'ou25' AND period = 'pre' AND flag IS NULL AND price > 1
"""
UPCOMING_SQL = """
SELECT f.div, f.season, f.match_date, f.home_team, f.away_team
FROM staging.stg_fixtures AS f
LEFT JOIN analytics.fct_matches AS m
  ON m.div = f.div AND m.season = f.season AND m.home_team = f.home_team AND m.away_team = f.away_team
WHERE m.match_id IS NULL
"""


def replace_table(warehouse: Any, table: str, frame: pd.DataFrame, date_columns: Sequence[str] = ()) -> int:
    """Drop and recreate ``table`` (``schema.name``) holding ``frame``, in one transaction; returns the row count.

    PostgreSQL's COPY path writes datetimes with a date-only format, so timestamps and dates travel as ISO text.
    """
    schema = table.split(".", 1)[0]
    out = frame.copy()
    if not warehouse.is_duckdb:
        for col in out.columns:
            if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                out[col] = out[col].dt.strftime("%Y-%m-%d %H:%M:%S%z")
            elif col in date_columns:
                out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d")
    with warehouse.connect() as conn, conn.transaction():
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(create_table_sql(table, frame, date_columns))
        conn.copy_into(table, out)
    return len(out)


def read_team_rows(warehouse: Any) -> pd.DataFrame:
    """analytics.team_match_features + analytics.team_state as the Feast offline source (local parquet export).

    Before the first model update (a fresh deployment's first daily run) there are no match rows yet: the state
    rows alone are what the online store serves."""
    cols = ", ".join(f'"{c}"' for c in TEAM_ROW_COLUMNS)
    frames = [warehouse.query_df(f"SELECT {cols} FROM analytics.{t}") for t in ("team_match_features", "team_state")
              if t == "team_state" or warehouse.table_exists("analytics", t)]
    return team_feature_rows(frames[0], frames[1]) if len(frames) == 2 else team_feature_rows(frames[0].iloc[0:0],
                                                                                              frames[0])
