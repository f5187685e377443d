"""Shared fixtures: the real data folder, throw-away warehouses on DuckDB and PostgreSQL, a local HTTP mirror."""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from football_platform.lib.warehouse import Warehouse

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FOOTBALL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
FOOTBALL_DATA = SHARED_DATA / "football-data"
PG_ADMIN_URL = os.environ.get("FOOTBALL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("FOOTBALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def manifest_rows() -> list[dict[str, str]]:
    with open(SHARED_DATA / "MANIFEST.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def season_files() -> list[dict[str, str]]:
    return [row for row in manifest_rows() if row["file"].startswith("football-data/") and row["season"]]


@pytest.fixture(scope="session")
def football_data_dir() -> Path:
    assert FOOTBALL_DATA.is_dir(), f"shared data not found at {FOOTBALL_DATA}"
    return FOOTBALL_DATA


def create_pg_database(prefix: str = "fp_test") -> str:
    """A fresh, uniquely named PostgreSQL database; returns its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(kind="duckdb", path=tmp_path / "warehouse.duckdb")


@pytest.fixture
def pg_warehouse(pg_url: str) -> Warehouse:
    return Warehouse(kind="postgres", url=pg_url)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """The same test on both profiles' warehouses."""
    if request.param == "duckdb":
        yield Warehouse(kind="duckdb", path=tmp_path / "warehouse.duckdb")
        return
    url = create_pg_database()
    try:
        yield Warehouse(kind="postgres", url=url)
    finally:
        drop_pg_database(url)


@pytest.fixture
def http_mirror(football_data_dir: Path):
    from tests.support.http_server import FootballDataServer

    with FootballDataServer(football_data_dir) as server:
        yield server
