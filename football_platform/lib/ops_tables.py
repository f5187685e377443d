"""Writes of the ``ops`` schema's small tables: ``ops.asset_health`` (owner of its DDL, replaced whole on every
report) and the row-by-row insert that ``ops.alerts`` (:mod:`football_platform.lib.alerts`) uses too."""

from __future__ import annotations

import numpy as np
import pandas as pd

from football_platform.contracts import ASSET_HEALTH_TABLE
from football_platform.lib.health import HEALTH_COLUMNS
from football_platform.lib.warehouse import Connection, Warehouse


def python_value(value: object) -> object:
    """A pandas/numpy cell as a plain Python value both DuckDB and psycopg bind (NULL for every missing kind)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def insert_frame(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """Row-by-row parameterised insert: small frames only (reports, alerts).

    Used instead of the bulk path because it keeps timestamps' time of day on
    PostgreSQL (the CSV COPY path formats datetimes as dates).
    """
    if frame.empty:
        return
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    placeholders = ", ".join("?" for _ in frame.columns)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    for row in frame.itertuples(index=False, name=None):
        conn.execute(sql, [python_value(v) for v in row])



def replace_health_table(warehouse: Warehouse, frame: pd.DataFrame) -> None:
    """``ops.asset_health`` := ``frame`` (:func:`~football_platform.lib.health.health_frame`), in one transaction.
    Replaced whole, so a new column never needs a migration."""
    columns = ",\n    ".join(f'"{name}" {sql_type}' for name, sql_type in HEALTH_COLUMNS.items())
    with warehouse.connect() as conn, conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
        conn.execute(f"DROP TABLE IF EXISTS {ASSET_HEALTH_TABLE}")
        conn.execute(f"CREATE TABLE {ASSET_HEALTH_TABLE} (\n    {columns}\n)")
        insert_frame(conn, ASSET_HEALTH_TABLE, frame)
