"""Benchmark: ``dbt build`` over the full history (6 leagues, 1993/94-2023/24) on both targets.

    .venv/bin/python -m benchmarks.dbt_build [--source DIR] [--profiles local,prod] [--seasons 9394:2324]

For each profile it loads the history into a throw-away warehouse (a DuckDB file in a temp
directory, or a temporary PostgreSQL database), then times three runs of the dbt project:

* ``full``         ``dbt build --full-refresh`` (every model rebuilt, every test run)
* ``no change``    ``dbt build`` again: the incremental models find nothing to rebuild
* ``one season``   ``dbt build`` after correcting one score of the latest season

and prints the wall time of each, the slowest models of the full build, and the peak
resident memory of the dbt processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from football_platform.lib.loading import ingest_many, load_fixtures
from football_platform.lib.seasons import season_range
from football_platform.lib.sources import DirectorySource
from football_platform.lib.warehouse import Warehouse
from football_platform.resources.dbt_cli import dbt_env
from football_platform.settings import DBT_PROJECT_DIR, DEFAULT_LEAGUES, PROJECT_ROOT

DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "data" / "football-data"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DBT = Path(sys.executable).parent / "dbt"


def _children_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _dbt(args: list[str], env: dict[str, str], work: Path) -> tuple[float, subprocess.CompletedProcess]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTBALL_", "DBT_")) and k != "DATABASE_URL"}
    start = time.perf_counter()
    result = subprocess.run(
        [str(DBT), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--no-use-colors"],
        env={**inherited, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env},
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{tail}")
    return elapsed, result


def _slowest_models(work: Path, n: int = 6) -> list[tuple[str, float]]:
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    models = [(r["unique_id"].split(".")[-1], r["execution_time"]) for r in results if r["unique_id"].startswith("model.")]
    return sorted(models, key=lambda item: -item[1])[:n]


def _load(warehouse: Warehouse, source: DirectorySource, seasons: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    outcomes = ingest_many(warehouse, source, [(s, d) for s in seasons for d in DEFAULT_LEAGUES])
    fixtures = source.fetch_fixtures()
    if fixtures.file is not None:
        load_fixtures(warehouse, fixtures.file, None)
    return time.perf_counter() - start, sum(o.rows for o in outcomes)


def _correct_one_score(warehouse: Warehouse, season: str) -> None:
    """Change one result of ``season`` (as the site does when it corrects a file)."""
    with warehouse.connect() as conn, conn.transaction():
        row = conn.query_one(
            "SELECT div, home_team, away_team FROM raw.matches WHERE season = ? ORDER BY div, match_date LIMIT 1",
            [season],
        )
        assert row is not None, f"no match in season {season}"
        conn.execute(
            "UPDATE raw.matches SET fthg = fthg + 1, ftr = CASE WHEN fthg + 1 > ftag THEN 'H' "
            "WHEN fthg + 1 = ftag THEN 'D' ELSE 'A' END, updated_at = CURRENT_TIMESTAMP "
            "WHERE season = ? AND div = ? AND home_team = ? AND away_team = ?",
            [season, *row],
        )


def bench_profile(profile: str, source: DirectorySource, seasons: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pg_name = None
        if profile == "local":
            warehouse = Warehouse(kind="duckdb", path=work / "warehouse.duckdb")
            env = dbt_env("local", warehouse.path, None)
        else:
            import psycopg

            pg_name = f"fp_bench_dbt_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{pg_name}"')
            url = PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"
            warehouse = Warehouse(kind="postgres", url=url)
            env = dbt_env("prod", None, url)
        try:
            load_seconds, rows = _load(warehouse, source, seasons)
            print(f"{profile:6} load      {rows:>7} matches {load_seconds:>8.1f} s (ingestion, not dbt)")
            full, _ = _dbt(["build", "--full-refresh"], env, work)
            slowest = _slowest_models(work)
            again, _ = _dbt(["build"], env, work)
            _correct_one_score(warehouse, seasons[-1])
            one, _ = _dbt(["build"], env, work)
            table = warehouse.query_df("SELECT COUNT(*) AS n FROM analytics.league_table")["n"].iloc[0]
            print(f"{profile:6} full       dbt build --full-refresh {full:>8.1f} s  (league_table: {table} rows)")
            print(f"{profile:6} no change  dbt build               {again:>8.1f} s")
            print(f"{profile:6} one season dbt build               {one:>8.1f} s")
            print(f"{profile:6} slowest models (full): " + ", ".join(f"{m} {s:.1f}s" for m, s in slowest))
        finally:
            if pg_name:
                import psycopg

                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--profiles", default="local,prod")
    parser.add_argument("--seasons", default="9394:2324")
    args = parser.parse_args(argv)
    source = DirectorySource(args.source)
    seasons = season_range(args.seasons)
    for profile in args.profiles.split(","):
        if profile not in ("local", "prod"):
            raise SystemExit(f"unknown profile {profile!r} (local, prod)")
        bench_profile(profile, source, seasons)
    print(f"peak resident memory of the dbt processes: {_children_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
