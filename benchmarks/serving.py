"""Benchmark: POST /predict with the pipeline's production model, beside a bare FastAPI route and ``mlflow models
serve`` on the same model, on both profiles.

    .venv/bin/python -m benchmarks.serving [--workers 2] [--duration 10] [--connections 8] [--predict-rate 1500]
        [--profiles redis,sqlite] [--only predict,nocache,fixed,get,mlflow] [--profile-dir DIR]

Builds a serving environment on real components (benchmarks/serving_env.py): the six leagues' 2020/21-2023/24
seasons in a throw-away PostgreSQL database, Feast's online stores (Redis and SQLite) filled by Feast's own
materialisation, and the model the pipeline trains and promotes (``catboost_market_aware``: same hyperparameters,
feature set and market baseline, loaded through the project's registry loader) as ``production`` in a SQLite MLflow.
Every ``POST /predict`` is a different pairing (all ordered pairs of teams of a league, ~4,300, shuffled).

For each profile (``redis``: FOOTBALL_ENV=prod, Feast's Redis store; ``sqlite``: FOOTBALL_ENV=local, Feast's SQLite
file) it starts ``football-platform serve --workers N`` (rate limit off, JSON access log ON, to a file) twice, with
the predict cache and without it (``--predict-cache 0``), and measures, one run after the other on loopback:

* throughput, wrk with ``--connections`` flat out: the bare route (benchmarks/serving_bare.py, same uvicorn set-up,
  measured right before each /predict run) and ``POST /predict``; the ratio of the two is the figure that survives a
  busy machine;
* latency at a fixed rate: ``benchmarks.loadgen`` at ``--predict-rate`` req/s (latency from each request's due
  time), with the generator's own CPU use (% of one core) beside it;
* once: ``GET /predictions`` (fixed 500/s and flat out) and ``mlflow models serve`` on the same model.

Memory: the largest resident set of an API worker after its runs. ``--profile-dir``: py-spy samples one worker
during an extra flat-out /predict run per server and a table gives the share of its CPU per step of a request.
Other processes may share the machine: the 1-minute load average is printed beside every figure.
Goal (issue 15, 2 cores, 8 connections, 2 workers): /predict >= 2,500 req/s and >= 0.29x the bare route,
p99 < 10 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REDIS_URL = os.environ.get("FOOTBALL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_ADMIN_URL = os.environ.get("FOOTBALL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
KEY = "bench-key"
KICKOFF = "2024-08-17"


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


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def wrk(url: str, duration: int, connections: int, threads: int = 2, script: str | None = None) -> dict:
    load = _load()
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"X-API-Key: {KEY}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"tool": f"wrk -c{connections}", "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": _to_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
            "p99_ms": _to_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
            "errors": int(non2xx.group(1)) if non2xx else 0, "load": load}


def fixed_rate(url: str, rate: float, duration: int, connections: int, method: str = "GET",
               bodies: list[bytes] | None = None) -> dict:
    from benchmarks.loadgen import constant_rate

    load = _load()
    headers = {"X-API-Key": KEY}
    if bodies:
        headers["Content-Type"] = "application/json"
    r = constant_rate(url, rate, duration, connections, method=method, headers=headers, bodies=bodies or [None])
    return {"tool": f"loadgen {rate:.0f}/s", "req_s": r.achieved_rate, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
            "errors": r.errors, "load": load}


def _lua_rotating_posts(path: Path, bodies: list[str]) -> str:
    """wrk script: POST with a different body each request (cycling through ``bodies``)."""
    items = ",\n".join(json.dumps(b) for b in bodies)
    path.write_text(
        f"local bodies = {{\n{items}\n}}\nlocal i = 0\n"
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{KEY}"\n'
        "request = function()\n  i = i + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])\nend\n")
    return str(path)


def _create_database() -> str:
    import psycopg

    name = f"fp_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def _worker_pids(proc: subprocess.Popen) -> list[int]:
    """The uvicorn workers of ``football-platform serve --workers N`` (its child processes), else the process."""
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    except OSError:
        children = []
    return [int(c) for c in children] or [proc.pid]


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def fixed_rate_cpu(url: str, rate: float, duration: int, connections: int, method: str = "GET",
                   bodies: list[bytes] | None = None) -> dict:
    """:func:`fixed_rate` plus the generator's own CPU use (this process), % of one core over the run."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    out = fixed_rate(url, rate, duration, connections, method, bodies)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out["gen_cpu"] = round(100 * cpu / max(time.perf_counter() - started, 1e-9))
    return out


# Where a sample of the API worker's CPU goes, by the innermost frame that names a step of a request
# (py-spy's raw format: "frame;frame;... count", outermost first).
STEPS = [
    ("metrics", ("prometheus_client/",)),
    ("access log", ("logging/", "format (serving/middleware.py")),
    ("model", ("catboost/", "predict_proba (", "probabilities (", "raw_scores (")),
    ("row build", ("model_input (", "features_from_states (", "lib/features.py", "ratings/")),
    ("feature read", ("redis/", "hiredis", "sqlite3", "serving/features.py", "serving/online_layout.py", "feature_rows.py")),
    ("serialisation", ("_json (serving", "orjson", "json/encoder", "json/__init__", "render (starlette")),
    ("validation", ("pydantic", "request_body_to_args", "parse_body (serving", "_validate", "json/decoder")),
    ("auth + rate limit", ("serving/auth.py", "dependency (serving/routers.py", "fastapi/security")),
    ("thread hop", ("anyio/", "concurrent/futures", "threading.py")),
    ("routing / middleware (starlette, fastapi, ours)", ("starlette/", "fastapi/", "serving/app.py",
                                                         "serving/middleware.py", "serving/routers.py",
                                                         "serving/predict.py")),
    ("HTTP server + event loop (uvicorn, uvloop)", ("uvicorn/", "uvloop", "asyncio/", "httptools")),
]


def classify(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for step, needles in STEPS:
            if any(n in frame for n in needles):
                return step
    return "other"


def step_table(raw_files: list[Path]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for path in raw_files:
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if stack and n.isdigit():
                step = classify(stack)
                counts[step] = counts.get(step, 0) + int(n)
    total = sum(counts.values()) or 1
    return {k: round(100 * v / total, 1) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}


def profile_run(pids: list[int], out_dir: Path, name: str, run: Any, duration: int) -> dict:
    """``run()`` while py-spy samples every worker; returns the run's figures and the per-step shares."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).parent / "py-spy"
    files = [out_dir / f"{name}-{pid}.txt" for pid in pids]
    spies = [subprocess.Popen([str(exe), "record", "--pid", str(pid), "--rate", "250", "--duration",
                               str(duration + 1), "--format", "raw", "--nonblocking", "--output", str(f)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid, f in zip(pids, files, strict=True)]
    time.sleep(0.5)
    figures = run()
    for spy in spies:
        spy.wait(timeout=60)
    return {"run": figures, "steps": step_table([f for f in files if f.exists()])}


def _local_warehouse(env: Any, path: Path) -> None:
    """The local profile's DuckDB warehouse: the team directory the API reads (analytics.team_state)."""
    from football_platform.lib import feature_tables as ftables
    from football_platform.lib.warehouse import Warehouse

    rows = env.warehouse.query_df("SELECT * FROM analytics.team_state")
    ftables.replace_table(Warehouse(kind="duckdb", path=path), "analytics.team_state", rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=float, default=500.0, help="fixed rate of the GET /predictions latency run")
    parser.add_argument("--predict-rate", type=float, default=1500.0,
                        help="fixed rate of the POST /predict latency run")
    parser.add_argument("--profiles", default="redis,sqlite", help="online stores to run: redis (prod), sqlite (local)")
    parser.add_argument("--only", default="predict,nocache,fixed,get,mlflow",
                        help="subset: predict (cache on), nocache (--predict-cache 0), fixed (loadgen at "
                             "--predict-rate), get (GET /predictions), mlflow (mlflow models serve)")
    parser.add_argument("--profile-dir", type=Path, help="py-spy one worker per server into this directory")
    args = parser.parse_args(argv)
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    only = {o.strip() for o in args.only.split(",") if o.strip()}
    if shutil.which("wrk") is None:
        print("error: wrk not found (apt-get install -y wrk; scripts/install_system_deps.sh installs it)",
              file=sys.stderr)
        return 1
    from benchmarks.serving_env import build_env, clean_redis, load_model, publish_batch
    from football_platform.lib.predictions import feature_row

    leagues = ("E0", "E1", "D1", "SP1", "I1", "F1")
    base = Path(tempfile.mkdtemp(prefix="fp_bench_serving_"))
    database_url = _create_database()
    procs: list[subprocess.Popen] = []
    results: dict[str, dict] = {}
    steps: dict[str, dict] = {}
    memory: dict[str, float] = {}
    env = None
    try:
        started = time.perf_counter()
        env = build_env(base, REDIS_URL, database_url=database_url, prefix=f"fp_bench_{uuid.uuid4().hex[:8]}",
                        leagues=leagues, model="production")
        publish_batch(env)
        _local_warehouse(env, base / "local.duckdb")
        model, version = load_model(env.tracking_uri)
        print(f"environment ready in {time.perf_counter() - started:.0f} s (PostgreSQL warehouse, Redis and SQLite "
              f"online stores, project {env.project}; production model v{version}: "
              f"{type(model.model).__name__}, {model.model.model.tree_count_ if hasattr(model.model, 'model') else '?'}"
              f" trees, {len(model.feature_names_)} features)", flush=True)
        teams = env.warehouse.query_df("SELECT team, div FROM analytics.team_state ORDER BY team")
        by_div: dict[str, list[str]] = {}
        for team, div in zip(teams["team"], teams["div"], strict=True):
            by_div.setdefault(str(div), []).append(str(team))
        pairs = [(h, a, d) for d, names in sorted(by_div.items()) for h, a in itertools.permutations(names, 2)]
        random.Random(0).shuffle(pairs)
        bodies = [json.dumps({"home_team": h, "away_team": a, "league": d, "kickoff": KICKOFF}) for h, a, d in pairs]
        post_bodies = [b.encode() for b in bodies]
        scripts = base / "wrk"
        scripts.mkdir()
        predict_lua = _lua_rotating_posts(scripts / "predict.lua", bodies)
        print(f"pairings: {len(bodies)} across {len(by_div)} leagues; load average before: {os.getloadavg()}",
              flush=True)

        # Importing Feast above set PROMETHEUS_MULTIPROC_DIR for its own use: the servers must not inherit it.
        common = {k: v for k, v in os.environ.items() if not k.upper().startswith("PROMETHEUS_MULTIPROC")}
        common.update({"MLFLOW_TRACKING_URI": env.tracking_uri, "REDIS_URL": REDIS_URL, "FOOTBALL_STATE_DIR": str(base),
                       "FOOTBALL_REDIS_PREFIX": env.settings.redis_key_prefix, "FOOTBALL_API_KEYS": KEY})
        profile_env = {"redis": {"FOOTBALL_ENV": "prod", "DATABASE_URL": database_url},
                       "sqlite": {"FOOTBALL_ENV": "local", "FOOTBALL_WAREHOUSE": str(base / "local.duckdb")}}
        exe = Path(sys.executable).parent
        bare_port = _port()
        bare = subprocess.Popen([str(exe / "uvicorn"), "benchmarks.serving_bare:app", "--port", str(bare_port),
                                 "--workers", str(args.workers), "--loop", "uvloop", "--http", "httptools",
                                 "--no-access-log", "--log-level", "warning"], env=common,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(bare)
        bare_url = f"http://127.0.0.1:{bare_port}/bare"
        _wait(bare_url, bare)

        def api(profile: str, cache: bool) -> tuple[subprocess.Popen, str]:
            port = _port()
            log = open(base / f"access-{profile}-{'cache' if cache else 'nocache'}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                [str(exe / "football-platform"), "serve", "--port", str(port), "--workers", str(args.workers),
                 "--rate-limit", "0", *([] if cache else ["--predict-cache", "0"]), "--log-level", "info"],
                env={**common, **profile_env[profile]}, stdout=log, stderr=log)
            procs.append(proc)
            url = f"http://127.0.0.1:{port}"
            _wait(f"{url}/health", proc)
            first = httpx.post(f"{url}/predict", content=bodies[0], timeout=30,
                               headers={"X-API-Key": KEY, "Content-Type": "application/json"})
            first.raise_for_status()
            backend = httpx.get(f"{url}/health/detailed", headers={"X-API-Key": KEY},
                                timeout=30).json()["features"]["backend"]
            assert backend == profile, (backend, profile)
            return proc, url

        for profile in profiles:
            for cache in (True, False):
                if ("predict" if cache else "nocache") not in only:
                    continue
                label = f"{profile}, {'cache' if cache else 'no cache'}"
                proc, url = api(profile, cache)
                # Warm-up, not reported: every worker starts its threads and, with the cache, sees every pairing (each
                # wrk thread cycles through all of them: about four passes reach both workers' caches).
                warm = wrk(f"{url}/predict", 5, args.connections, script=predict_lua)
                if cache:
                    more = 4 * len(bodies) / max(warm["req_s"], 1.0) - 5
                    if more > 0:
                        wrk(f"{url}/predict", int(min(60, more)) + 1, args.connections, script=predict_lua)
                time.sleep(2)
                results[f"bare GET /bare ({label})"] = wrk(bare_url, args.duration, args.connections)
                time.sleep(2)
                results[f"POST /predict ({label})"] = wrk(f"{url}/predict", args.duration, args.connections,
                                                          script=predict_lua)
                if "fixed" in only:
                    time.sleep(3)
                    results[f"POST /predict @{args.predict_rate:.0f}/s ({label})"] = fixed_rate_cpu(
                        f"{url}/predict", args.predict_rate, args.duration, args.connections, "POST", post_bodies)
                if args.profile_dir:
                    time.sleep(2)
                    name = f"{profile}-{'cache' if cache else 'nocache'}"
                    prof = profile_run(_worker_pids(proc), args.profile_dir, name, lambda u=url: wrk(
                        f"{u}/predict", args.duration, args.connections, script=predict_lua), args.duration)
                    steps[label] = prof["steps"]
                if "get" in only and profile == profiles[0] and cache:
                    get_url = f"{url}/predictions?limit=20"
                    fixed_rate(get_url, 200, 2, args.connections)
                    time.sleep(2)
                    results[f"GET /predictions @{args.rate:.0f}/s"] = fixed_rate_cpu(get_url, args.rate, args.duration,
                                                                                   args.connections)
                    time.sleep(2)
                    results["GET /predictions"] = wrk(get_url, args.duration, args.connections)
                memory[label] = round(max(_rss_mb(pid) for pid in _worker_pids(proc)))
                _stop([proc])
                procs.remove(proc)
                time.sleep(2)

        if "mlflow" in only:
            mlflow_port = _port()
            mlflow_proc = subprocess.Popen(
                [str(exe / "mlflow"), "models", "serve", "-m", "models:/football-match-outcome@production", "-p",
                 str(mlflow_port), "--env-manager", "local", "-w", str(args.workers)],
                env={**common, "PATH": f"{exe}:{os.environ.get('PATH', '')}"},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(mlflow_proc)
            _wait(f"http://127.0.0.1:{mlflow_port}/ping", mlflow_proc)
            # The anchor scores one prepared feature row of the first pairing: no feature fetch at all.
            from serving.features import OnlineFeatureReader

            home, away = OnlineFeatureReader(env.project, redis_url=REDIS_URL).pair(*pairs[0][:2])
            from football_platform.lib.features import features_from_states

            names = list(model.feature_names_)
            row = feature_row(features_from_states(home.state, away.state, KICKOFF, div=pairs[0][2], season="2425"),
                              names)
            row = [None if isinstance(v, float) and v != v else v for v in row]
            anchor_body = {"dataframe_split": {"columns": names, "data": [row]}}
            httpx.post(f"http://127.0.0.1:{mlflow_port}/invocations", json=anchor_body, timeout=30).raise_for_status()
            anchor = scripts / "anchor.lua"
            anchor.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(anchor_body))}\n'
                              'wrk.headers["Content-Type"] = "application/json"\n')
            time.sleep(2)
            results["mlflow models serve POST /invocations"] = wrk(
                f"http://127.0.0.1:{mlflow_port}/invocations", args.duration, args.connections, script=str(anchor))
    finally:
        _stop(procs)
        if env is not None:
            clean_redis(env.settings)
        _drop_database(database_url)
        shutil.rmtree(base, ignore_errors=True)

    print(f"{'run':46s} {'tool':16s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s} {'gen cpu':>8s} "
          f"{'load1':>6s}")
    for name, r in results.items():
        gen = f"{r['gen_cpu']}%" if "gen_cpu" in r else ""
        print(f"{name:46s} {r['tool']:16s} {r['req_s']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d} "
              f"{gen:>8s} {r['load']:6.2f}")
    summary: dict[str, Any] = {"workers": args.workers, "connections": args.connections, "duration_s": args.duration,
                               "pairings": len(bodies), "predict_rate": args.predict_rate,
                               "max_worker_rss_mb": memory}
    for label in [k[len("POST /predict ("):-1] for k in results if k.startswith("POST /predict (")]:
        post, bare_r = results[f"POST /predict ({label})"], results[f"bare GET /bare ({label})"]
        fixed = results.get(f"POST /predict @{args.predict_rate:.0f}/s ({label})")
        summary[label] = {
            "req_s": round(post["req_s"]), "ratio_to_bare": round(post["req_s"] / max(bare_r["req_s"], 1e-9), 2),
            "p99_ms_flat_out": post["p99_ms"],
            "p99_ms_at_fixed_rate": None if fixed is None else fixed["p99_ms"],
            "goal_req_s_2500": post["req_s"] >= 2500, "goal_ratio_0_29": post["req_s"] >= 0.29 * bare_r["req_s"],
            # The goal: p99 under 10 ms at 8 connections (wrk, closed loop); the constant-rate p99 at
            # --predict-rate is reported beside it as its own check.
            "goal_p99_under_10ms": post["p99_ms"] < 10,
            "fixed_rate_p99_under_10ms": None if fixed is None else fixed["p99_ms"] < 10,
            "errors": post["errors"] + (fixed["errors"] if fixed else 0)}
    if "mlflow models serve POST /invocations" in results:
        summary["mlflow_serve_req_s"] = round(results["mlflow models serve POST /invocations"]["req_s"])
    if steps:
        print("\nshare of an API worker's CPU per step of POST /predict (py-spy, flat out), %:")
        names = sorted({k for v in steps.values() for k in v}, key=lambda k: -max(v.get(k, 0) for v in steps.values()))
        print(f"{'step':50s} " + " ".join(f"{label:>18s}" for label in steps))
        for k in names:
            print(f"{k:50s} " + " ".join(f"{steps[label].get(k, 0.0):18.1f}" for label in steps))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
