"""The warehouse: one small API over DuckDB (local profile) and PostgreSQL (prod).

Callers write SQL once, with ``?`` placeholders, in the dialect both engines
share; this module converts placeholders for psycopg and bulk-loads frames the
fast way for each engine (DuckDB reads pandas directly, PostgreSQL takes COPY).

DuckDB admits one writing process: connections are opened per unit of work and
closed straight after, never held.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from football_platform.lib.raw_schema import POSTGRES_INDEXES, RAW_DDL

_PLACEHOLDER = re.compile(r"\?")


def redact_url(url: str) -> str:
    """``scheme://user@host:port/db`` of a connection URL: parsed, never pattern-matched, so that a password in
    the query string (``?password=``), an unencoded ``@`` in it, or a malformed URL leaks nothing."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


@dataclass(frozen=True)
class Warehouse:
    """Where the warehouse lives. ``kind`` is ``'duckdb'`` (``path``) or ``'postgres'`` (``url``)."""

    kind: str
    path: Path | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "duckdb" and self.path is None:
            raise ValueError("a DuckDB warehouse needs a file path")
        if self.kind == "postgres" and not self.url:
            raise ValueError("a PostgreSQL warehouse needs a DATABASE_URL")
        if self.kind not in ("duckdb", "postgres"):
            raise ValueError(f"unknown warehouse kind {self.kind!r}")

    @classmethod
    def for_settings(cls, settings: Any) -> Warehouse:
        if settings.is_prod:
            return cls(kind="postgres", url=settings.database_url)
        return cls(kind="duckdb", path=Path(settings.warehouse_path))

    @property
    def is_duckdb(self) -> bool:
        return self.kind == "duckdb"

    def describe(self) -> str:
        """Where the warehouse is, for log lines and errors: never its password, whatever form the URL takes."""
        if self.is_duckdb:
            return f"duckdb:{self.path}"
        return "postgres:" + redact_url(self.url or "")

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Connection]:
        """A short-lived connection; the caller commits through :meth:`Connection.transaction`."""
        if self.is_duckdb:
            import duckdb

            assert self.path is not None
            if read_only and not self.path.exists():
                raise FileNotFoundError(f"warehouse {self.path} does not exist yet: run an ingest first")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            raw = duckdb.connect(str(self.path), read_only=read_only)
        else:
            import psycopg

            raw = psycopg.connect(self.url, autocommit=True)
        try:
            yield Connection(raw, self.kind)
        finally:
            raw.close()

    def ensure_raw_schema(self) -> None:
        with self.connect() as conn:
            conn.ensure_raw_schema()

    def query_df(self, sql: str, params: Sequence[Any] | None = None, read_only: bool = False) -> pd.DataFrame:
        """One query on a short-lived connection.

        Pipeline code reads with an ordinary connection: inside one process DuckDB refuses a
        read-only connection to a file another connection has open read-write. Other processes
        (the API, an analyst) pass ``read_only=True``.
        """
        with self.connect(read_only=read_only and self.is_duckdb) as conn:
            return conn.query_df(sql, params)

    def table_exists(self, schema: str, table: str, read_only: bool = False) -> bool:
        if self.is_duckdb and (self.path is None or not self.path.exists()):
            return False
        with self.connect(read_only=read_only and self.is_duckdb) as conn:
            return conn.table_exists(schema, table)


class Connection:
    """A DB-API connection with the few operations the platform needs, engine-neutral."""

    def __init__(self, raw: Any, kind: str):
        self.raw = raw
        self.kind = kind

    def ensure_raw_schema(self) -> None:
        if getattr(self, "_raw_schema_ready", False):
            return
        with self.transaction():
            for statement in RAW_DDL + (POSTGRES_INDEXES if self.kind == "postgres" else []):
                self.execute(statement)
        self._raw_schema_ready = True

    def table_exists(self, schema: str, table: str) -> bool:
        found = self.query_one(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
        )
        return bool(found and found[0])

    def _sql(self, sql: str) -> str:
        return sql if self.kind == "duckdb" else _PLACEHOLDER.sub("%s", sql)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if self.kind == "duckdb":
            self.raw.execute(sql, list(params) if params is not None else None)
        else:
            self.raw.execute(self._sql(sql), params)

    def query_one(self, sql: str, params: Sequence[Any] | None = None) -> tuple | None:
        if self.kind == "duckdb":
            # fetchall, not fetchone: DuckDB 2 keeps a partly fetched result open and refuses the next statement
            rows = self.raw.execute(sql, list(params) if params is not None else None).fetchall()
            return rows[0] if rows else None
        return self.raw.execute(self._sql(sql), params).fetchone()

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        if self.kind == "duckdb":
            return self.raw.execute(sql, list(params) if params is not None else None).df()
        cur = self.raw.execute(self._sql(sql), params)
        columns = [d.name for d in cur.description] if cur.description else []
        return pd.DataFrame(cur.fetchall(), columns=columns)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All or nothing: a file lands whole or not at all."""
        if self.kind == "duckdb":
            self.raw.execute("BEGIN TRANSACTION")
            try:
                yield self
            except BaseException:
                self.raw.execute("ROLLBACK")
                raise
            self.raw.execute("COMMIT")
        else:
            with self.raw.transaction():
                yield self

    def create_temp_like(self, name: str, like: str, columns: Sequence[str]) -> None:
        """An empty temp table with ``columns`` typed as in table ``like``."""
        cols = ", ".join(f'"{c}"' for c in columns)
        self.execute(f"DROP TABLE IF EXISTS {name}")
        self.execute(f"CREATE TEMP TABLE {name} AS SELECT {cols} FROM {like} LIMIT 0")

    def load_temp(self, name: str, frame: pd.DataFrame, like: str | None = None) -> None:
        """Create temp table ``name`` holding ``frame`` (columns in frame order)."""
        if self.kind == "duckdb":
            view = f"_frame_{name}"
            self.raw.register(view, frame)
            try:
                if like:
                    cols = ", ".join(f'"{c}"' for c in frame.columns)
                    self.raw.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {cols} FROM {like} LIMIT 0")
                    self.raw.execute(f"INSERT INTO {name} SELECT * FROM {view}")
                else:
                    self.raw.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {view}")
            finally:
                self.raw.unregister(view)
            return
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        self.raw.execute(f"DROP TABLE IF EXISTS {name}")
        if not like:
            raise ValueError("PostgreSQL temp tables need a template table (like=...)")
        self.raw.execute(f"CREATE TEMP TABLE {name} AS SELECT {cols} FROM {like} LIMIT 0")
        self.copy_into(name, frame)

    def copy_into(self, table: str, frame: pd.DataFrame) -> None:
        """Append ``frame`` to ``table`` with the engine's bulk path."""
        if frame.empty:
            return
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        if self.kind == "duckdb":
            import pyarrow as pa

            view = f"_append_{abs(hash(table))}"
            # Arrow is DuckDB's zero-copy path; pandas object columns are scanned row by row.
            self.raw.register(view, pa.Table.from_pandas(frame, preserve_index=False))
            try:
                self.raw.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")
            finally:
                self.raw.unregister(view)
            return
        buffer = io.StringIO()
        # \N marks NULL so that an empty string stays an empty string.
        frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
        with self.raw.cursor().copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
            copy.write(buffer.getvalue())


@contextmanager
def session(target: Warehouse | Connection) -> Iterator[Connection]:
    """Use ``target`` if it is already a connection, else open one for the duration.

    Batch work (an ingest of many files) opens one connection and passes it down:
    opening a DuckDB file costs tens of milliseconds each time.
    """
    if isinstance(target, Connection):
        yield target
        return
    with target.connect() as conn:
        yield conn
