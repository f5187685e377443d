"""Benchmark: the prediction API under wrk, with ``mlflow models serve`` on the same model as the anchor.

    .venv/bin/python -m benchmarks.serving [--workers 2] [--duration 10] [--connections 8]

Builds a small E0 environment (DuckDB warehouse, tiny CatBoost registered as ``production`` in a SQLite
MLflow, batch published to Redis under a unique prefix), starts ``football-platform serve`` and
``mlflow models serve``, and prints req/s, p50 and p99 of ``GET /predictions``, ``POST /predict`` and the
anchor's ``POST /invocations``. Targets: GET p99 < 10 ms at 500 req/s; POST p99 < 25 ms and more
throughput than mlflow serve. wrk drives each endpoint flat out, so a GET p99 under 10 ms at >= 500 req/s
meets the first target a fortiori.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx

from football_platform.settings import PROJECT_ROOT

REDIS_URL = "redis://127.0.0.1:6379/15"
KEY = "bench-key"


def _port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def _to_ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def wrk(url: str, duration: int, connections: int, threads: int = 2, script: str | None = None) -> dict[str, float]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"X-API-Key: {KEY}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"req_s": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def _post_script(path: Path, body: dict) -> str:
    path.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
                    'wrk.headers["Content-Type"] = "application/json"\n')
    return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk not found (apt-get install -y wrk)", file=sys.stderr)
        return 1
    sys.path.insert(0, str(PROJECT_ROOT))
    from tests.integration.test_serving_support import build_env, clean_redis, publish_batch

    base = Path(tempfile.mkdtemp(prefix="fp_bench_serving_"))
    env = build_env(base, REDIS_URL)
    env = replace(env, settings=replace(env.settings, api_keys=(KEY,)))
    publish_batch(env)
    procs: list[subprocess.Popen] = []
    results: dict[str, dict[str, float]] = {}
    try:
        api_port, mlflow_port = _port(), _port()
        environ = {**os.environ, "FOOTBALL_ENV": "local", "FOOTBALL_STATE_DIR": str(base),
                   "FOOTBALL_WAREHOUSE": str(env.warehouse.path), "MLFLOW_TRACKING_URI": env.tracking_uri,
                   "REDIS_URL": REDIS_URL, "FOOTBALL_REDIS_PREFIX": env.settings.redis_key_prefix,
                   "FOOTBALL_API_KEYS": KEY}
        exe = Path(sys.executable).parent
        procs.append(subprocess.Popen(
            [str(exe / "football-platform"), "serve", "--port", str(api_port), "--workers", str(args.workers),
             "--rate-limit", "0", "--no-access-log", "--log-level", "warning"],
            env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(
            [str(exe / "mlflow"), "models", "serve", "-m", "models:/football-match-outcome@production", "-p",
             str(mlflow_port), "--env-manager", "local", "-w", str(args.workers)],
            env={**environ, "PATH": f"{exe}:{os.environ.get('PATH', '')}"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        api = f"http://127.0.0.1:{api_port}"
        _wait(f"{api}/health", procs[0])
        _wait(f"http://127.0.0.1:{mlflow_port}/ping", procs[1])
        body = {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2024-08-17"}
        first = httpx.post(f"{api}/predict", json=body, headers={"X-API-Key": KEY}, timeout=30)
        first.raise_for_status()
        for _ in range(2 * args.workers):  # warm each worker's feature cache
            httpx.post(f"{api}/predict", json=body, headers={"X-API-Key": KEY}, timeout=30)
        # The anchor gets the identical feature row the API builds.
        from football_platform.lib.features import features_from_states
        from football_platform.lib.predictions import feature_row
        from serving.features import StateReader
        from serving.model import ModelHolder

        reader = StateReader(REDIS_URL, env.settings.redis_key_prefix)
        home, away = reader.pair("Arsenal", "Chelsea")
        holder = ModelHolder(env.tracking_uri)
        holder.check()
        names = holder.current.model.feature_names_
        row = feature_row(features_from_states(home, away, "2024-08-17", div="E0", season="2425"), names)
        row = [None if isinstance(v, float) and v != v else v for v in row]
        anchor_body = {"dataframe_split": {"columns": names, "data": [row]}}
        httpx.post(f"http://127.0.0.1:{mlflow_port}/invocations", json=anchor_body, timeout=30).raise_for_status()

        script_dir = base / "wrk"
        script_dir.mkdir()
        results["GET /predictions"] = wrk(f"{api}/predictions?limit=20", args.duration, args.connections)
        results["POST /predict"] = wrk(f"{api}/predict", args.duration, args.connections,
                                       script=_post_script(script_dir / "predict.lua", body))
        results["mlflow serve POST /invocations"] = wrk(
            f"http://127.0.0.1:{mlflow_port}/invocations", args.duration, args.connections,
            script=_post_script(script_dir / "anchor.lua", anchor_body))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        clean_redis(env.settings)
        shutil.rmtree(base, ignore_errors=True)
    print(f"{'endpoint':34s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'non-2xx':>8s}")
    for name, r in results.items():
        print(f"{name:34s} {r['req_s']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['non_2xx']:8d}")
    get, post, anchor = (results[k] for k in results)
    print(json.dumps({
        "workers": args.workers, "connections": args.connections, "duration_s": args.duration,
        "get_p99_under_10ms_at_500rps": get["p99_ms"] < 10 and get["req_s"] >= 500,
        "post_p99_under_25ms": post["p99_ms"] < 25,
        "post_beats_mlflow_serve": post["req_s"] > anchor["req_s"],
        "run_id": uuid.uuid4().hex[:8],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
