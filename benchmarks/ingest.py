"""Benchmark: ingest every season file (186) on both profiles' warehouses.

    .venv/bin/python -m benchmarks.ingest [--source DIR] [--profiles local,prod]

Prints wall time, rows/s and peak resident memory for a first (cold) ingest and a
second (everything unchanged) ingest, against the target: the full history in
under 20 s on the local profile.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from football_platform.lib.loading import ingest_many
from football_platform.lib.seasons import all_seasons
from football_platform.lib.sources import DirectorySource
from football_platform.lib.warehouse import Warehouse
from football_platform.settings import DEFAULT_LEAGUES, PROJECT_ROOT

TARGET_SECONDS = 20.0
DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "data" / "football-data"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(warehouse: Warehouse, source: DirectorySource) -> list[tuple[str, float, int, int]]:
    files = [(season, div) for season in all_seasons("2324") for div in DEFAULT_LEAGUES]
    results = []
    for label in ("cold", "unchanged"):
        start = time.perf_counter()
        outcomes = ingest_many(warehouse, source, files)
        elapsed = time.perf_counter() - start
        loaded = sum(o.status in ("loaded", "unchanged") for o in outcomes)
        results.append((label, elapsed, sum(o.rows for o in outcomes), loaded))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--profiles", default="local,prod")
    args = parser.parse_args(argv)
    source = DirectorySource(args.source)
    print(f"{'profile':8} {'run':10} {'files':>5} {'rows':>7} {'seconds':>8} {'rows/s':>8}  target")
    for profile in args.profiles.split(","):
        if profile == "local":
            with tempfile.TemporaryDirectory() as tmp:
                results = _run(Warehouse(kind="duckdb", path=Path(tmp) / "warehouse.duckdb"), source)
        else:
            import uuid

            import psycopg

            name = f"fp_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                results = _run(Warehouse(kind="postgres", url=PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"), source)
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for label, seconds, rows, files in results:
            verdict = ""
            if profile == "local" and label == "cold":
                verdict = f"{'PASS' if seconds < TARGET_SECONDS else 'MISS'} (< {TARGET_SECONDS:.0f} s)"
            print(f"{profile:8} {label:10} {files:>5} {rows:>7} {seconds:>8.1f} {rows / seconds:>8.0f}  {verdict}")
    print(f"peak resident memory: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
