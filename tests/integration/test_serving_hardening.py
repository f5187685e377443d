"""Issue 18, the API probed as an attacker would: key scopes and the ``keys`` command, limits checked before any
parsing, no echo of input, no internals in any answer, truthful health, no Host-based redirect, rate limits shared
by workers. Real Redis, DuckDB, PostgreSQL's client and real uvicorn workers; every test failed on the code before."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import multiprocessing
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.serving_env import API_KEY, METRICS_KEY
from football_platform.cli import main as cli_main
from football_platform.lib.warehouse import Warehouse
from football_platform.settings import Settings
from serving.app import ServingOptions, create_app
from serving.auth import KeyStore, Principal, RedisBuckets, SharedRateLimiter, SqliteBuckets, create_api_key
from serving.features import OnlineFeatureReader, redis_client
from tests.conftest import REDIS_TEST_URL
from tests.integration.test_serving_api import _closed_port, redis_app, serve

pytestmark = pytest.mark.redis
H = {"X-API-Key": API_KEY}
ADMIN_KEY = "test-admin-key"
FAST = ServingOptions(rate_limit_per_second=0, model_poll_seconds=3600, access_log=False,
                      anonymous_rate_per_second=0)


def _client(app, address: str | None = None) -> TestClient:
    """A TestClient from its own client address (per-address throttling never mixes tests)."""
    return TestClient(app, client=(address or f"10.{uuid.uuid4().int % 250}.0.{uuid.uuid4().int % 250}", 50000))


@pytest.fixture(scope="module")
def client(env):
    settings = replace(env.settings, admin_keys=(ADMIN_KEY,))
    with _client(redis_app(env, FAST, settings)) as c:
        yield c


# ---------------------------------------------------------------- 2. scopes and the keys command


def test_env_keys_read_only_admin_keys_admin(client):
    assert client.post("/admin/reload", headers=H).status_code == 403  # FOOTBALL_API_KEYS: read
    assert client.get("/predictions", headers=H).status_code == 200
    admin = {"X-API-Key": ADMIN_KEY}
    assert client.post("/admin/reload", headers=admin).status_code == 200  # FOOTBALL_ADMIN_KEYS: read and admin
    assert client.get("/predictions", headers=admin).status_code == 200


def test_metrics_need_the_metrics_scope_as_api_key_or_bearer_token(client):
    """/metrics is no longer open: Prometheus scrapes it with a metrics-only key sent as a bearer token, which can
    read nothing else; a read key cannot scrape; an admin key can (operators with curl)."""
    bearer = {"Authorization": f"Bearer {METRICS_KEY}"}

    def counted() -> dict[tuple[str, str], float]:
        text = client.get("/metrics", headers=bearer).text
        return {(s.labels["route"], s.labels["status"]): s.value for family in text_string_to_metric_families(text)
                if family.name == "football_api_requests" for s in family.samples if s.name.endswith("_total")}

    before = counted()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {METRICS_KEY}"}).status_code == 401
    assert client.get("/metrics", headers=H).status_code == 403  # read scope only
    for headers in (bearer, {"X-API-Key": METRICS_KEY}, {"X-API-Key": ADMIN_KEY}):
        scraped = client.get("/metrics", headers=headers)
        assert scraped.status_code == 200 and "football_api_requests_total" in scraped.text, headers
    for route in ("/predictions", "/teams", "/stats", "/health/detailed"):
        assert client.get(route, headers=bearer).status_code == 403, route
    assert client.post("/admin/reload", headers=bearer).status_code == 403
    # Refusals are counted under the route they were meant for, not "unmatched".
    after = counted()
    added = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
    assert added[("/metrics", "401")] == 3 and added[("/metrics", "403")] == 1
    assert added[("/predictions", "403")] == 1 and added[("/admin/reload", "403")] == 1
    assert not any(route == "unmatched" for route, _ in added)
    documented = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert {"401", "403", "429"} <= set(documented["responses"])
    assert {"APIKeyHeader", "HTTPBearer"} <= {name for rule in documented["security"] for name in rule}


def test_keys_command_create_list_revoke_expiry(env, tmp_path, monkeypatch, capsys):
    warehouse = Warehouse(kind="duckdb", path=tmp_path / "keys.duckdb")
    monkeypatch.setenv("FOOTBALL_ENV", "local")
    monkeypatch.setenv("FOOTBALL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("FOOTBALL_WAREHOUSE", str(warehouse.path))
    assert cli_main(["keys", "create", "analyst", "--rate", "2"]) == 0
    secret = capsys.readouterr().out.strip()
    assert cli_main(["keys", "create", "boss", "--scopes", "admin", "--burst", "7"]) == 0
    boss = capsys.readouterr().out.strip()
    assert cli_main(["keys", "create", "analyst"]) == 2  # an active name is taken
    assert "exists" in capsys.readouterr().err
    assert cli_main(["keys", "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["scopes"], r["rate_per_second"], r["burst"]) for r in listed] == [
        ("analyst", "read", 2.0, None), ("boss", "read,admin,metrics", None, 7.0)]
    stored = warehouse.query_df("SELECT * FROM ops.api_keys").to_string()
    assert secret not in stored and boss not in stored  # only the sha256
    keys = KeyStore(warehouse=warehouse)
    keys.refresh()
    assert keys.lookup(secret).scopes == {"read"} and keys.lookup(secret).rate_per_second == 2.0
    assert keys.lookup(boss).scopes == {"read", "admin", "metrics"} and keys.lookup(boss).burst == 7.0
    assert cli_main(["keys", "revoke", "analyst"]) == 0
    assert cli_main(["keys", "revoke", "analyst"]) == 1
    keys.refresh()
    assert keys.lookup(secret) is None and keys.lookup(boss) is not None
    expired = create_api_key(warehouse, "old", expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    keys.refresh()
    assert keys.lookup(expired) is None


# ---------------------------------------------------------------- 4, 5. bodies, headers, echo, NaN


@pytest.mark.parametrize("raw", [
    b'{"home_team":"Arsenal","away_team":"Chelsea","league":NaN}',
    b'{"home_team":"Arsenal","away_team":"Chelsea","kickoff":Infinity}',
    b'{"home_team":NaN,"away_team":-Infinity}',
])
def test_nan_and_infinity_are_422(client, raw):
    r = client.post("/predict", content=raw, headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] == "body"


def test_validation_errors_echo_only_an_excerpt(client):
    long_name = "A" * 6_000  # under the body limit, so the validator sees it
    r = client.post("/predict", json={"home_team": long_name, "away_team": "Chelsea", long_name: 1}, headers=H)
    assert r.status_code == 422
    assert len(r.content) < 1500 and long_name[:100] not in r.text
    r = client.get("/predictions", params={"team": "B" * 5000}, headers=H)
    assert r.status_code == 422 and len(r.content) < 1000


def test_auth_before_parsing_and_body_limits(client):
    junk = b'{"home_team": 1}'
    assert client.post("/predict", content=junk, headers={"Content-Type": "application/json"}).status_code == 401
    big = b'{"home_team":"' + b"x" * 2_000_000 + b'","away_team":"Chelsea"}'
    for headers in ({}, H):  # declared length: refused before a byte is read, with or without a key
        r = client.post("/predict", content=big, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 413, r.status_code

    def chunks():  # no Content-Length: counted while read
        for _ in range(100):
            yield b"x" * 10_000

    r = client.post("/predict", content=chunks(), headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert client.get("/predictions", headers={"X-API-Key": "k" * 8192}).status_code == 431
    assert client.get("/health", headers={f"x-pad-{i}": "p" * 1000 for i in range(20)}).status_code == 431
    r = client.post("/predict", content=b"\xff\xfe not utf-8", headers={**H, "Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    assert str(r.status_code) in client.app.openapi()["paths"]["/predict"]["post"]["responses"]


# ---------------------------------------------------------------- 3. nothing internal in any answer


LEAKS = ("LeakMe-123", "leakuser", "p@ss", "127.0.0.1", "leakdb", "sslmode")


@pytest.mark.parametrize("url", [
    "postgresql://leakuser@127.0.0.1:5999/leakdb?password=LeakMe-123&sslmode=disable",
    "postgresql://leakuser:p@ss@LeakMe-123@127.0.0.1:5999/leakdb",
    "postgresql+psycopg://leakuser:LeakMe-123@127.0.0.1:5999/leakdb",
])
def test_no_user_host_path_or_secret_in_any_answer(env, url):
    settings = replace(env.settings, profile="prod", database_url=url, admin_keys=(ADMIN_KEY,))
    reader = OnlineFeatureReader(env.project, redis_url=REDIS_TEST_URL, warehouse=env.warehouse)
    with _client(create_app(settings, FAST, feature_reader=reader)) as c:
        for route in ("/health/detailed", "/health/database", "/health/redis", "/stats"):
            assert c.get(route).status_code == 401, route  # no key, no diagnostics
        answers = [c.get(route, headers=H) for route in
                   ("/health", "/health/detailed", "/health/database", "/health/redis", "/stats",
                    "/models/production", "/predictions", "/teams")]
        answers.append(c.post("/admin/reload", headers={"X-API-Key": ADMIN_KEY}))
        answers.append(c.get("/metrics", headers={"X-API-Key": ADMIN_KEY}))
        assert answers[2].status_code == 503 and answers[2].json()["error"]  # the database is down, and says so
    secrets = (*LEAKS, str(env.base), env.tracking_uri, str(env.warehouse.path), url)
    for r in answers:
        for secret in secrets:
            assert secret not in r.text, (r.request.url.path, secret)


def test_duckdb_lock_holder_pid_not_shown(env, tmp_path):
    path = tmp_path / "locked.duckdb"
    shutil.copy(env.warehouse.path, path)
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,sys,time; c=duckdb.connect({str(path)!r}); "
                               "print('locked', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        settings = replace(env.settings, warehouse_path=path)
        reader = OnlineFeatureReader(env.project, redis_url=REDIS_TEST_URL, warehouse=env.warehouse)
        with _client(create_app(settings, FAST, feature_reader=reader)) as c:
            r = c.get("/health/database", headers=H)
            detailed = c.get("/health/detailed", headers=H).text
    finally:
        holder.kill()
        holder.wait()
    assert r.status_code == 503 and r.json() == {"status": "down", "kind": "duckdb", "error": "IOException"}
    for text in (r.text, detailed):
        assert str(holder.pid) not in text and str(path) not in text and "PID" not in text


# ---------------------------------------------------------------- 7. truthful health and source


def test_both_stores_down_source_is_stale_and_health_503(env):
    with _client(redis_app(env)) as c:
        assert c.get("/predictions", headers=H).json()["source"] == "redis"
        dead = redis_client(f"redis://127.0.0.1:{_closed_port()}/15")
        c.app.state.store.redis = dead
        c.app.state.store.warehouse = Warehouse(kind="postgres", url=f"postgresql://u@127.0.0.1:{_closed_port()}/x")
        c.app.state.store.refresh()
        listed = c.get("/predictions", headers=H).json()
        assert listed["source"] == "stale" and listed["total"] == 10  # the last batch, not claimed from Redis
        r = c.get("/health/detailed", headers=H)
        assert r.status_code == 503 and r.json()["serving"]["/predictions"] is False


# ---------------------------------------------------------------- 8. no redirect from the Host header


def test_no_redirect_built_from_host_header(client):
    for method, path in (("POST", "/admin/reload/"), ("GET", "/predictions/"), ("GET", "/teams/")):
        for headers in ({"Host": "evil.example"}, {"Host": "evil.example", **H}):
            r = client.request(method, path, headers=headers, follow_redirects=False)
            assert not 300 <= r.status_code < 400 and "location" not in r.headers, (method, path, r.status_code)
            assert "evil.example" not in r.text


# ---------------------------------------------------------------- 6. the OpenAPI document and behaviour


@pytest.mark.parametrize("kickoff", [0, 20240817, "0001-01-01", "9999-12-31", "1989-12-31", "2101-01-01",
                                     "2024-W33-6", "2024-02-30", "2024-08-17T00:00:00"])
def test_kickoff_must_be_a_bounded_iso_date(client, kickoff):
    r = client.post("/predict", json={"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": kickoff}, headers=H)
    assert r.status_code == 422, (kickoff, r.text)


def test_query_dates_bounded_and_leagues_an_enum(client):
    for params in ({"date_to": "0"}, {"date_from": "0"}, {"date_from": "0001-01-01"}, {"league": "XX"}):
        assert client.get("/predictions", params=params, headers=H).status_code == 422, params
    assert client.get("/predictions", params={"date_from": "1990-01-01", "date_to": "2100-12-31"},
                      headers=H).json()["total"] == 10
    schema = client.app.openapi()
    league = schema["components"]["schemas"]["PredictRequest"]["properties"]["league"]["anyOf"][0]
    assert league["enum"] == ["E0", "E1", "SP1", "D1", "I1", "F1"]
    kickoff = schema["components"]["schemas"]["PredictRequest"]["properties"]["kickoff"]["anyOf"][0]
    assert kickoff["format"] == "date" and kickoff["pattern"].startswith("^(199")
    paths = schema["paths"]
    assert {"400", "401", "403", "404", "413", "422", "429", "503"} <= set(paths["/predict"]["post"]["responses"])
    assert {"401", "403", "429"} <= set(paths["/admin/reload"]["post"]["responses"])
    for route in ("/health/database", "/health/redis", "/health/detailed"):
        assert {"401", "503"} <= set(paths[route]["get"]["responses"]), route


def test_unknown_query_parameters_are_422_not_ignored(client):
    # A misspelt filter must not answer as if no filter were given (schemathesis' negative-data check).
    r = client.get("/predictions", params={"leage": "E0"}, headers=H)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", "leage"]
    assert client.get("/teams", params={"league": "E0", "x": "1"}, headers=H).status_code == 422
    assert client.get("/predictions", params={"league": "E0", "limit": 1}, headers=H).status_code == 200


# ---------------------------------------------------------------- 1. rate limits per key, shared, per address


def test_key_rate_and_burst_from_the_table_and_anonymous_throttle(env):
    key = create_api_key(env.warehouse, f"slow-{uuid.uuid4().hex[:8]}", ("read",), rate_per_second=0.01, burst=2)
    opts = replace(FAST, rate_limit_per_second=50, rate_limit_burst=100, anonymous_rate_per_second=0.01,
                   anonymous_burst=3)
    with _client(redis_app(env, opts)) as c:
        codes = [c.get("/teams", headers={"X-API-Key": key}).status_code for _ in range(5)]
        assert codes == [200, 200, 429, 429, 429]  # its own burst of 2, not max(100, rate)
        r = c.get("/teams", headers={"X-API-Key": key})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        guesses = [c.get("/teams", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(6)]
        assert guesses == [401, 401, 401, 429, 429, 429]  # unknown keys throttled per client address
        assert c.get("/health").status_code == 200  # liveness is never throttled


def _take_many(path: str, n: int, out) -> None:
    buckets = SqliteBuckets(path)
    out.put([asyncio.run(buckets.take("key:shared", 0.001, 10))[0] for _ in range(n)])


def test_sqlite_buckets_are_shared_by_processes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_take_many, args=(str(tmp_path / "rl.sqlite"), 15, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join()
    assert sum(sum(r) for r in results) == 10  # one bucket of 10 for both processes, not 10 each


def test_limiter_falls_back_to_process_buckets_when_redis_is_down():
    limiter = SharedRateLimiter(RedisBuckets(f"redis://127.0.0.1:{_closed_port()}/15", "down"), rate=0.01, burst=2)
    who = Principal(name="k", scopes=frozenset({"read"}))

    async def three() -> list[bool]:
        return [(await limiter.allow(who))[0] for _ in range(3)]

    assert asyncio.run(three()) == [True, True, False]  # still limited (per process) while the store is down


def test_rate_limits_hold_across_two_workers(env, tmp_path):
    from prometheus_client import multiprocess

    prefix = f"rl{uuid.uuid4().hex[:8]}"  # its own buckets (and an empty online project: /teams answers [])
    own = create_api_key(env.warehouse, f"own-{prefix}", ("read",), rate_per_second=0.01, burst=3)
    metrics_dir = tmp_path / "metrics"
    extra = {"FOOTBALL_REDIS_PREFIX": prefix, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with serve(env, "--workers", "2", "--rate-limit", "0.01", "--rate-burst", "5", extra_env=extra) as base:
        def burst(headers: dict, n: int) -> list[int]:
            codes = []
            for _ in range(n):
                with httpx.Client() as fresh:  # a new connection each time: the kernel picks the worker
                    r = fresh.get(f"{base}/teams", headers=headers, timeout=10)
                codes.append(r.status_code)
                assert r.status_code != 429 or int(r.headers["retry-after"]) >= 1
            return codes

        default_codes = burst(H, 30)
        own_codes = burst({"X-API-Key": own}, 20)
        served = {}
        for f in metrics_dir.glob("counter_*.db"):
            served[f.name] = sum(s.value for m in multiprocess.MultiProcessCollector.merge([str(f)])
                                 for s in m.samples if s.name == "football_api_requests_total"
                                 and s.labels.get("status") in ("200", "429"))
    assert sum(1 for v in served.values() if v > 0) == 2, served  # both workers answered
    assert default_codes.count(200) == 5 and set(default_codes) == {200, 429}  # one bucket of 5 for the server
    assert own_codes.count(200) == 3 and set(own_codes) == {200, 429}  # the key's own burst, shared


# ---------------------------------------------------------------- schemathesis: every operation, all checks

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, seed, settings  # noqa: E402


@pytest.fixture(scope="module")
def served(env):
    """The real server (uvicorn, the SQLite online store, the Redis prediction cache, DuckDB, the MLflow
    registry); rate limits off so that the fuzzer is not throttled. Yields its base URL."""
    with serve(env, "--rate-limit", "0", "--anonymous-rate", "0", extra_env={"FOOTBALL_ADMIN_KEYS": ADMIN_KEY}) as base:
        assert httpx.get(f"{base}/openapi.json", timeout=10).json() == DOCUMENT  # the document fuzzed is served
        yield base


# The document of the code under test (schemathesis' lazy fixture loader does not run under pytest 9).
DOCUMENT = create_app(Settings()).openapi()
fuzzed = schemathesis.openapi.from_dict(DOCUMENT)


@fuzzed.hook
def filter_body(context, body):
    """The one rule of /predict that JSON Schema cannot state (and the description does): two different teams."""
    if isinstance(body, dict) and isinstance(body.get("home_team"), str) and isinstance(body.get("away_team"), str):
        return body["home_team"].strip() != body["away_team"].strip()
    return True


@fuzzed.parametrize()
@seed(18)
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_schemathesis_all_checks(case, served):
    case.call_and_validate(base_url=served, headers={"X-API-Key": ADMIN_KEY})
