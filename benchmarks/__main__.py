"""Run every benchmark in turn: ``python -m benchmarks`` (or ``make bench``); each prints its figures and targets."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ["ingest", "dbt_build", "features", "pipeline", "daily", "model_quality", "serving"]


def main() -> int:
    chosen = sys.argv[1:] or BENCHMARKS
    for name in chosen:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        module.main([])
        print(f"=== benchmarks.{name}: {time.perf_counter() - start:.0f} s ===", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
