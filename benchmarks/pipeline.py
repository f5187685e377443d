"""Benchmark: the main job, ``football-platform run``, on the local profile over the full history.

    .venv/bin/python -m benchmarks.pipeline [--source DIR] [--leagues E0,...] [--seasons 9394:2324]

Runs the command line exactly as a user would (a fresh state directory: embedded DuckDB, SQLite,
no servers), then prints wall time, peak resident memory of the run (the process and its children)
and the row counts it left, against the development machine's budget (4 GB RAM, 2 cores): the whole graph
on the full history with peak resident memory under 4 GB.
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
from pathlib import Path

from football_platform.lib.warehouse import Warehouse
from football_platform.settings import DEFAULT_LEAGUES, PROJECT_ROOT

PEAK_RSS_TARGET_MB = 4096
DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "data" / "football-data"
TABLES = ["raw.matches", "analytics.fct_matches", "analytics.match_features", "analytics.training_set",
          "analytics.team_state", "analytics.predictions"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--leagues", default=",".join(DEFAULT_LEAGUES))
    parser.add_argument("--seasons", default="9394:2324")
    args = parser.parse_args(argv)
    cli = Path(sys.executable).parent / "football-platform"
    with tempfile.TemporaryDirectory(prefix="fp_pipeline_") as tmp:
        state = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTBALL_", "DAGSTER_", "MLFLOW_"))}
        env.update(FOOTBALL_ENV="local", FOOTBALL_STATE_DIR=str(state), DAGSTER_HOME=str(state / "dagster_home"))
        (state / "dagster_home").mkdir()
        start = time.perf_counter()
        # The run executes in-process (one Python process, like `make demo`): RUSAGE_CHILDREN is its peak.
        done = subprocess.run([str(cli), "run", "--source", args.source, "--leagues", args.leagues,
                               "--seasons", args.seasons], env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
            raise SystemExit(f"football-platform run failed with exit code {done.returncode}")
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        warehouse = Warehouse(kind="duckdb", path=state / "warehouse.duckdb")
        counts = {t: int(warehouse.query_df(f"SELECT COUNT(*) AS n FROM {t}")["n"].iloc[0]) for t in TABLES}
    print(f"football-platform run --leagues {args.leagues} --seasons {args.seasons} (local profile, fresh state)")
    print(f"  files {summary['files']}, matches {summary['rows']}, assets materialised {summary['assets_materialized']}")
    for table, n in counts.items():
        print(f"  {table:28} {n:>9,} rows")
    print(f"  wall time      {wall:8.0f} s")
    verdict = "OK" if peak_mb < PEAK_RSS_TARGET_MB else "OVER"
    print(f"  peak RSS       {peak_mb:8.0f} MB   target < {PEAK_RSS_TARGET_MB} MB: {verdict}")


if __name__ == "__main__":
    main(sys.argv[1:])
