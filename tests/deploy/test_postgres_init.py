"""deploy/postgres/init-databases.sh against the real PostgreSQL server."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from .conftest import ADMIN_DSN, PG_ENV, REPO_ROOT, run, system_binary

SCRIPT = REPO_ROOT / "deploy" / "postgres" / "init-databases.sh"


def _databases() -> set[str]:
    with psycopg.connect(ADMIN_DSN) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


@pytest.fixture
def app_role():
    """A non-superuser role standing in for the platform's own login (FOOTBALL_DB_OWNER)."""
    role = f"deploy_owner_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    yield role
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_creates_databases_and_warehouse_schemas_idempotently(app_role, temp_database_factory):
    # app_role first: it is torn down last, after the databases it owns are dropped.
    system_binary("psql", "postgresql-client")
    names = [temp_database_factory(prefix, create=False) for prefix in ("warehouse_it", "dagster_it")]
    env = (
        os.environ
        | PG_ENV
        | {"FOOTBALL_INIT_DATABASES": " ".join(names), "POSTGRES_USER": "postgres", "FOOTBALL_DB_OWNER": app_role}
    )
    for attempt in (1, 2):  # the second run finds everything in place and changes nothing
        result = run(["bash", str(SCRIPT)], env=env, timeout=60)
        assert result.returncode == 0, f"run {attempt}: {result.stderr}"
    assert set(names) <= _databases()
    with psycopg.connect(ADMIN_DSN.rsplit("/", 1)[0] + "/" + names[0]) as conn:
        schemas = {row[0] for row in conn.execute("SELECT schema_name FROM information_schema.schemata")}
    assert {"raw", "analytics", "feast"} <= schemas
    with psycopg.connect(ADMIN_DSN.rsplit("/", 1)[0] + "/" + names[1]) as conn:
        schemas = {row[0] for row in conn.execute("SELECT schema_name FROM information_schema.schemata")}
    assert "raw" not in schemas  # only the warehouse gets the platform's schemas
    # The platform's role (not a superuser) owns the databases and can create its tables.
    with psycopg.connect(ADMIN_DSN) as conn:
        owners = dict(
            conn.execute(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ANY(%s)", (names,)
            ).fetchall()
        )
    assert owners == {name: app_role for name in names}
    dsn = ADMIN_DSN.rsplit("/", 1)[0].replace("postgres@", f"{app_role}@") + "/" + names[0]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw.probe (id int)")
        conn.execute("DROP TABLE raw.probe")


def test_rejects_unsafe_database_names():
    env = os.environ | PG_ENV | {"FOOTBALL_INIT_DATABASES": 'ok_name "bad; DROP'}
    result = run(["bash", str(SCRIPT)], env=env, timeout=60)
    assert result.returncode != 0
    assert "refusing database name" in result.stderr
    # checked before anything is created: the good name in the same list was not created either
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = 'ok_name'").fetchone() is None
