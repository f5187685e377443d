"""Shared fixtures for the deployment tests: paths, validator binaries, throw-away databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".venv-tools" / "bin"
ADMIN_DSN = os.environ.get("FOOTBALL_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_ENV = {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "postgres"}


def tool(name: str) -> str:
    """Path of a validator from .venv-tools (never skipped: a missing validator is a failure)."""
    path = TOOLS_BIN / name
    if not path.exists():
        pytest.fail(
            f"{path} is missing: build the validators venv with `python3 -m venv .venv-tools && "
            f".venv-tools/bin/pip install uv==0.13.9 && .venv-tools/bin/uv pip sync --python "
            f".venv-tools/bin/python requirements-tools.lock`"
        )
    return str(path)


def system_binary(name: str, debian_package: str) -> str:
    """Path of a binary from Debian's packages, failing with the package to install."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` not found: apt-get install {debian_package}")
    return path


def run(cmd: list[str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output (no shell)."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def _admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def temp_database_factory() -> Iterator:
    """Create uniquely named PostgreSQL databases; all are dropped at the end of the test."""
    created: list[str] = []

    def make(prefix: str = "deploytest", create: bool = True) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        if create:
            _admin_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return name

    yield make
    for name in created:
        _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
