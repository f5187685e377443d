"""The ``dbt`` resource and the dbt project, for the active profile.

``dbt_project/profiles.yml`` reads only environment variables. This module turns
:class:`~football_platform.settings.Settings` into those variables (pure functions)
and hands them to every dbt invocation the resource starts, so the same Dagster code
drives DuckDB locally and PostgreSQL in prod.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from football_platform.resources.secrets import resolved, secret
from football_platform.settings import DBT_PROJECT_DIR, Settings

DBT_PROFILE = "football"
DBT_TARGETS = {"local": "local", "prod": "prod"}  # settings.profile -> profiles.yml target
_PG_SCHEMES = ("postgres", "postgresql")


class DatabaseUrlError(ValueError):
    """DATABASE_URL cannot be turned into dbt-postgres connection parts."""


def dbt_env_from_database_url(url: str) -> dict[str, str]:
    """``postgresql://user:pa%40ss@host:5433/db?sslmode=require`` -> the ``FOOTBALL_PG_*`` variables.

    Percent-escapes are decoded (dbt wants the raw password). Missing parts fall back
    to libpq's usual defaults: host 127.0.0.1, port 5432, user postgres, database = user.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()  # 'postgresql+psycopg' is common in SQLAlchemy URLs
    if scheme not in _PG_SCHEMES:
        raise DatabaseUrlError(
            f"DATABASE_URL must start with postgresql:// (got scheme {parts.scheme!r}); "
            "dbt's prod target only speaks PostgreSQL"
        )
    query = parse_qs(parts.query)
    try:
        port = parts.port
    except ValueError as exc:  # 'host:notaport'
        raise DatabaseUrlError(f"DATABASE_URL has an invalid port: {exc}") from None
    host = unquote(parts.hostname or "") or query.get("host", [""])[0] or "127.0.0.1"
    user = unquote(parts.username or "") or query.get("user", [""])[0] or "postgres"
    dbname = unquote(parts.path.lstrip("/")) or query.get("dbname", [""])[0] or user
    env = {
        "FOOTBALL_PG_HOST": host,
        "FOOTBALL_PG_PORT": str(port or query.get("port", ["5432"])[0]),
        "FOOTBALL_PG_USER": user,
        "FOOTBALL_PG_PASSWORD": unquote(parts.password or "") or query.get("password", [""])[0],
        "FOOTBALL_PG_DBNAME": dbname,
    }
    if "sslmode" in query:
        env["FOOTBALL_PG_SSLMODE"] = query["sslmode"][0]
    return env


def dbt_env(profile: str, warehouse_path: str | Path | None, database_url: str | None) -> dict[str, str]:
    """Environment variables a dbt invocation needs for one profile (see profiles.yml)."""
    if profile not in DBT_TARGETS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(DBT_TARGETS)}")
    env = {"FOOTBALL_DBT_TARGET": DBT_TARGETS[profile]}
    if profile == "prod":
        if not database_url:
            raise DatabaseUrlError("the prod profile needs DATABASE_URL for dbt's PostgreSQL target")
        env.update(dbt_env_from_database_url(database_url))
    else:
        if warehouse_path is None:
            raise ValueError("the local profile needs a DuckDB warehouse path for dbt")
        # Absolute: dbt runs with the project directory as its working directory.
        env["FOOTBALL_WAREHOUSE"] = str(Path(warehouse_path).expanduser().resolve())
    return env


def dbt_env_for_settings(settings: Settings) -> dict[str, str]:
    """:func:`dbt_env` for a :class:`Settings`."""
    return dbt_env(settings.profile, settings.warehouse_path, settings.database_url)


_ENV_LOCK = threading.Lock()


@contextmanager
def _process_environment(overrides: Mapping[str, str]) -> Iterator[None]:
    """Set variables in ``os.environ`` for the duration of the block, then restore them.

    dagster-dbt builds the dbt subprocess's environment, and its in-process adapter
    (row counts, column metadata) reads profiles.yml, from ``os.environ`` at call time;
    it has no parameter for extra variables (the maintainers' advice is to set them
    around the call). The lock keeps two threads from interleaving their overrides.
    """
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in overrides}
        os.environ.update(overrides)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
KEEP_INVOCATION_DIRS = 10


def keep_parse_state(target_dir: Path, invocation_dir: Path, keep_runs: int = KEEP_INVOCATION_DIRS) -> bool:
    """Copy ``invocation_dir``'s partial_parse.msgpack to ``target_dir`` (atomically: dbt checks the file and
    reparses in full if it does not match, so a concurrent run can at worst lose the reuse) and prune the
    invocation directories under ``target_dir`` to the newest ``keep_runs``."""
    source = invocation_dir / PARTIAL_PARSE_FILE
    kept = False
    if source.exists():
        tmp = target_dir / f".{PARTIAL_PARSE_FILE}.{os.getpid()}.tmp"
        shutil.copyfile(source, tmp)
        os.replace(tmp, target_dir / PARTIAL_PARSE_FILE)
        kept = True
    runs = sorted((d for d in target_dir.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime, reverse=True)
    for old in runs[keep_runs:]:
        shutil.rmtree(old, ignore_errors=True)
    return kept


class FootballDbtCliResource(DbtCliResource):
    """A :class:`DbtCliResource` that passes the profile's connection to every dbt invocation.

    ``database_url`` is ``dg.EnvVar('DATABASE_URL')`` when it came from there (the UI shows the name only).
    """

    profile_name: str = "local"
    warehouse_path: str | None = None
    database_url: str | None = None
    # Where every invocation's target directory goes (one per invocation, dagster-dbt's layout) and where the
    # newest partial_parse.msgpack is kept between runs; None: the project's target/ (no reuse across runs).
    target_dir: str | None = None

    def dbt_environment(self) -> dict[str, str]:
        env = dbt_env(self.profile_name, self.warehouse_path, resolved(self.database_url))
        if self.target_dir:
            # dagster-dbt puts each invocation under DBT_TARGET_PATH and seeds it with the partial_parse.msgpack
            # found there: with keep_partial_parse() after each run, dbt reparses only what changed (the one
            # shipped in the project was parsed with another profile, which dbt refuses to reuse).
            env["DBT_TARGET_PATH"] = str(Path(self.target_dir).expanduser().resolve())
        return env

    def cli(self, args: Sequence[str], **kwargs: Any):  # type: ignore[override]
        # The subprocess is started inside super().cli(), so the overrides reach it; the
        # adapter it also creates resolves its credentials there, once.
        if self.target_dir:
            Path(self.target_dir).mkdir(parents=True, exist_ok=True)
        with _process_environment(self.dbt_environment()):
            return super().cli(args, **kwargs)

    @cached_property
    def _cli_version(self) -> version.Version:  # type: ignore[override]
        # dagster-dbt asks `dbt --version` (a whole dbt start-up, ~5 s here) on every run to tell dbt Core from
        # the Fusion engine. The executable is this environment's dbt (_dbt_executable): its version is dbt-core's.
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            try:
                return version.parse(importlib.metadata.version("dbt-core"))
            except importlib.metadata.PackageNotFoundError:
                pass
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]):  # type: ignore[override]
        # dagster-dbt's in-process adapter only serves fetch_row_counts/fetch_column_metadata, which the DuckDB
        # profile never calls (the dbt asset reads that metadata over its own short connection): skip loading dbt
        # and the adapter in this process (seconds per run, and it would hold the DuckDB file open).
        if self.profile_name != "prod":
            return None
        return super()._initialize_dbt_core_adapter(args)

    def keep_partial_parse(self, invocation: Any, keep_runs: int = KEEP_INVOCATION_DIRS) -> bool:
        """After a successful invocation: its partial_parse.msgpack becomes the seed of the next one, and only the
        newest ``keep_runs`` invocation directories are kept. Returns whether a parse state was kept."""
        if not self.target_dir or not invocation.is_successful():
            return False
        return keep_parse_state(Path(self.target_dir), Path(invocation.target_path), keep_runs)


def _dbt_executable() -> str:
    """The ``dbt`` next to this interpreter (the venv's), so PATH need not include the venv."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


@cache
def get_dbt_project(project_dir: str | None = None) -> DbtProject:
    """The dbt project. Its manifest is produced at install time (``dbt parse``), never here."""
    directory = Path(project_dir) if project_dir else DBT_PROJECT_DIR
    return DbtProject(project_dir=directory, profiles_dir=directory, profile=DBT_PROFILE)


def build_dbt_resource(settings: Settings, project_dir: str | Path | None = None) -> FootballDbtCliResource:
    """The ``dbt`` resource for a profile: DuckDB file (local) or PostgreSQL (prod)."""
    directory = Path(project_dir) if project_dir else DBT_PROJECT_DIR
    dbt_env_for_settings(settings)  # fail here, with the reason, rather than inside a run
    return FootballDbtCliResource(
        project_dir=str(directory),
        profiles_dir=str(directory),
        profile=DBT_PROFILE,
        target=DBT_TARGETS[settings.profile],
        dbt_executable=_dbt_executable(),
        global_config_flags=["--no-use-colors"],
        profile_name=settings.profile,
        warehouse_path=str(settings.warehouse_path) if not settings.is_prod else None,
        database_url=secret(settings, "database_url") if settings.is_prod else None,
        target_dir=str(settings.state_dir / "dbt_target"),
    )
