"""The prediction API against real Redis (prediction cache and Feast's online store), a real DuckDB warehouse and a
real MLflow registry (SQLite)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.serving_env import API_KEY, METRICS_KEY, ServingEnv, register, train_tiny
from football_platform.contracts import MODEL_NAME
from serving.app import ServingOptions, create_app
from serving.auth import create_api_key
from serving.features import OnlineFeatureReader, redis_client
from tests.conftest import REDIS_TEST_URL

pytestmark = pytest.mark.redis
H = {"X-API-Key": API_KEY}
SCRAPE = {"Authorization": f"Bearer {METRICS_KEY}"}  # as Prometheus sends its credentials
FAST = ServingOptions(rate_limit_per_second=0, model_poll_seconds=3600, access_log=False)


def redis_app(env: ServingEnv, options: ServingOptions = FAST, settings=None):
    """The app reading Feast's Redis online store (the prod profile's layout) and the Redis prediction cache."""
    settings = settings or env.settings
    reader = OnlineFeatureReader(env.project, redis_url=REDIS_TEST_URL, warehouse=env.warehouse)
    return create_app(settings, options, feature_reader=reader)


@pytest.fixture(scope="module")
def client(env):
    with TestClient(redis_app(env)) as c:
        yield c


def test_prediction_routes_need_a_valid_key(client):
    body = {"home_team": "Arsenal", "away_team": "Chelsea"}
    for headers in ({}, {"X-API-Key": "wrong"}):
        assert client.get("/predictions", headers=headers).status_code == 401
        assert client.get("/predictions/x", headers=headers).status_code == 401
        assert client.post("/predict", json=body, headers=headers).status_code == 401
        assert client.get("/teams", headers=headers).status_code == 401
        assert client.get("/models/production", headers=headers).status_code == 401
        assert client.post("/admin/reload", headers=headers).status_code == 401
    # Issue 18: only liveness and the schema stay open; diagnostics need a key, the Prometheus scrape its own.
    for keyed in ("/health/detailed", "/health/database", "/health/redis", "/stats"):
        assert client.get(keyed).status_code == 401, keyed
        assert client.get(keyed, headers=H).status_code == 200, keyed
    for open_route in ("/health", "/openapi.json"):
        assert client.get(open_route).status_code == 200, open_route


def test_batch_predictions_filters_and_pagination(client, env):
    full = client.get("/predictions", params={"limit": 500}, headers=H).json()
    # The 2026-01-30 snapshot lists 10 E0 fixtures, none of them in the 2020-2024 results.
    assert full["total"] == 10 and full["source"] == "redis"
    for item in full["items"]:
        assert abs(item["p_home"] + item["p_draw"] + item["p_away"] - 1) < 1e-9
        assert item["model_version"] == "1"
    page = client.get("/predictions", params={"limit": 3, "offset": 3}, headers=H).json()
    assert [i["match_id"] for i in page["items"]] == [i["match_id"] for i in full["items"][3:6]]
    arsenal = client.get("/predictions", params={"team": "Arsenal"}, headers=H).json()["items"]
    assert arsenal and all("Arsenal" in (i["home_team"], i["away_team"]) for i in arsenal)
    day = client.get("/predictions", params={"date_from": "2026-02-01", "date_to": "2026-02-01"}, headers=H).json()
    assert all(i["match_date"] == "2026-02-01" for i in day["items"])
    assert client.get("/predictions", params={"league": "SP1"}, headers=H).json()["total"] == 0
    one = full["items"][0]
    assert client.get(f"/predictions/{one['match_id']}", headers=H).json()["p_home"] == one["p_home"]
    assert client.get("/predictions/E0-2526-nobody-nowhere", headers=H).status_code == 404


def test_predict_answers_with_probabilities_and_version(client):
    r = client.post("/predict", json={"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2024-08-17"},
                    headers=H)
    assert r.status_code == 200, r.text
    body = r.json()
    assert abs(body["p_home"] + body["p_draw"] + body["p_away"] - 1) < 1e-9
    assert 0 < body["p_over25"] < 1 and abs(body["p_over25"] + body["p_under25"] - 1) < 1e-12
    assert body["model"] == {"name": MODEL_NAME, "version": "1"}
    assert body["season"] == "2425" and body["league"] == "E0"
    # Feast's event timestamp of the team rows: the day after the last E0 2023/24 match day.
    assert body["features_timestamp"] == "2024-05-20T00:00:00+00:00"
    assert body["kickoff"] == "2024-08-17"
    assert "x-request-id" in r.headers


def _misses(client) -> float:
    text = client.get("/metrics", headers=SCRAPE).text
    line = next((x for x in text.splitlines()
                 if x.startswith("football_api_feature_misses_total ")), text[:3000])
    assert line.startswith("football_api_feature_misses_total "), [x for x in text.splitlines() if "miss" in x] or text[:800]
    return float(line.split()[1])


def test_unknown_team_404_names_closest(client):
    before = _misses(client)
    r = client.post("/predict", json={"home_team": "Arsenel", "away_team": "Chelsea"}, headers=H)
    assert r.status_code == 404
    assert "Arsenal" in r.json()["detail"]["closest"]
    assert _misses(client) == before + 1
    # Issue 18: the league is an enum of the known codes in the schema (422); a known code without online
    # features is a 404.
    r = client.post("/predict", json={"home_team": "Chelsea", "away_team": "Arsenal", "league": "XX"}, headers=H)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "league"]
    r = client.post("/predict", json={"home_team": "Chelsea", "away_team": "Arsenal", "league": "SP1"}, headers=H)
    assert r.status_code == 404 and "no online features for league 'SP1'" in r.json()["detail"]


def test_teams_and_default_kickoff(client):
    teams = client.get("/teams", params={"league": "E0"}, headers=H).json()
    assert teams["count"] == len(teams["teams"]) >= 20
    assert {"team": "Arsenal", "league": "E0"} in teams["teams"]
    # No kickoff: the day after the later of the two teams' last matches (2023/24's final day).
    body = client.post("/predict", json={"home_team": "Arsenal", "away_team": "Everton"}, headers=H).json()
    assert body["kickoff"] == "2024-05-20" and body["season"] == "2324"


@pytest.mark.parametrize("body", [
    {"home_team": "Arsenal"},
    {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "not-a-date"},
    {"home_team": "Arsenal", "away_team": "Chelsea", "colour": "red"},
    {"home_team": "", "away_team": "Chelsea"},
    {"home_team": "Arsenal", "away_team": "Arsenal"},
    {"home_team": "  ", "away_team": "Chelsea"},
])
def test_invalid_body_422(client, body):
    assert client.post("/predict", json=body, headers=H).status_code == 422


def test_warehouse_key_table_and_scopes(client, env):
    key = create_api_key(env.warehouse, "analyst", ("read",))
    client.app.state.keys.refresh()
    assert client.get("/predictions", headers={"X-API-Key": key}).status_code == 200
    assert client.post("/admin/reload", headers={"X-API-Key": key}).status_code == 403
    stored = env.warehouse.query_df("SELECT key_hash, name FROM ops.api_keys")
    assert key not in stored.to_string()  # only the sha256 is stored


def test_rate_limit_429(env):
    opts = replace(FAST, rate_limit_per_second=1, rate_limit_burst=3)
    with TestClient(create_app(env.settings, opts)) as c:
        codes = [c.get("/teams", headers=H).status_code for _ in range(6)]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]


def test_metrics_expose_contract_names(client):
    client.post("/predict", json={"home_team": "Arsenal", "away_team": "Chelsea"}, headers=H)
    text = client.get("/metrics", headers=SCRAPE).text
    for name in ("football_api_requests_total", "football_api_request_duration_seconds", "football_api_model_info",
                 "football_api_predictions_served_total", "football_api_feature_misses_total",
                 "football_api_cache_requests_total", "football_model_rolling_rps", "football_closing_rolling_rps",
                 "football_data_freshness_seconds", "football_model_age_seconds"):
        assert name in text, name
    assert 'football_api_model_info{name="football-match-outcome",version="1"} 1.0' in text
    assert 'route="/predict"' in text


def test_an_empty_key_list_leaves_the_api_closed_as_env_example_says(env):
    """FOOTBALL_API_KEYS empty (and no ops.api_keys row for the key): prediction routes answer 401, not open."""
    with TestClient(redis_app(env, settings=replace(env.settings, api_keys=()))) as c:
        assert c.get("/predictions").status_code == 401
        assert c.get("/predictions", headers={"X-API-Key": "anything"}).status_code == 401
        assert c.get("/health").status_code == 200
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    comment = text[: text.index("\nFOOTBALL_API_KEYS=")].rsplit("\n\n", 1)[-1]
    assert "401" in comment and "open (local only)" not in comment, comment


def test_raw_matches_freshness_comes_from_the_health_report(env):
    """football_data_freshness_seconds{asset="raw_matches"}: what the StaleData alert, the dashboard and the
    runbook read; the age of the last raw_matches materialisation in ops.asset_health."""
    from football_platform.lib.health import HEALTH_COLUMNS

    columns = ", ".join(f'"{name}" {sql_type}' for name, sql_type in HEALTH_COLUMNS.items())
    with env.warehouse.connect() as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
        conn.execute("DROP TABLE IF EXISTS ops.asset_health")
        conn.execute(f"CREATE TABLE ops.asset_health ({columns})")
        conn.execute("""INSERT INTO ops.asset_health (asset_key, status, last_materialized_at, checks_passed,
                        checks_failed, checks_warned, checks_not_run, reported_at)
                        VALUES ('raw_matches', 'HEALTHY', now() - INTERVAL 3 HOUR, 0, 0, 0, 0, now())""")
    try:
        with TestClient(redis_app(env)) as c:
            families = {f.name: f for f in text_string_to_metric_families(c.get("/metrics", headers=SCRAPE).text)}
        ages = {s.labels["asset"]: s.value for s in families["football_data_freshness_seconds"].samples}
        assert 3 * 3600 - 60 < ages["raw_matches"] < 3 * 3600 + 600, ages
    finally:
        with env.warehouse.connect() as conn:
            conn.execute("DROP TABLE IF EXISTS ops.asset_health")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_redis_down_predict_503_batch_still_served(env):
    with TestClient(redis_app(env)) as c:
        assert c.post("/predict", json={"home_team": "Arsenal", "away_team": "Chelsea"}, headers=H).status_code == 200
        dead = redis_client(f"redis://127.0.0.1:{_closed_port()}/15")
        c.app.state.reader.redis = dead  # Redis goes away mid-run
        c.app.state.store.redis = dead
        started = time.monotonic()
        r = c.post("/predict", json={"home_team": "Arsenal", "away_team": "Chelsea"}, headers=H)
        assert r.status_code == 503 and "online feature store (Redis) unreachable" in r.json()["detail"]
        assert time.monotonic() - started < 2
        c.app.state.store.refresh()  # the cache refresh falls back to the warehouse
        listed = c.get("/predictions", headers=H).json()
        assert listed["total"] == 10 and listed["source"] == "warehouse"
        assert c.get("/health/redis", headers=H).status_code == 503
        # Issue 18: /predict cannot be served, so the detailed health answers 503, not 200 "degraded".
        detailed = c.get("/health/detailed", headers=H)
        assert detailed.status_code == 503 and detailed.json()["status"] == "unavailable"
        assert detailed.json()["serving"] == {"/predict": False, "/predictions": True}


def test_hot_swap_without_failed_requests(env, tmp_path):
    # A private copy of the registry: moving its alias must not disturb the other tests.
    shutil.copy(env.base / "mlflow.db", tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = replace(env.settings, mlflow_tracking_uri=uri)
    opts = replace(FAST, model_poll_seconds=0.5)
    statuses: list[int] = []
    versions: set[str] = set()
    p_home: dict[str, set[float]] = {}  # by model version: the predict cache must not outlive the swap
    stop = threading.Event()
    with TestClient(redis_app(env, opts, settings)) as c:
        def hammer() -> None:
            while not stop.is_set():
                r = c.post("/predict", json={"home_team": "Liverpool", "away_team": "Everton"}, headers=H)
                statuses.append(r.status_code)
                if r.status_code == 200:
                    versions.add(r.json()["model"]["version"])
                    p_home.setdefault(r.json()["model"]["version"], set()).add(r.json()["p_home"])

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            new = register(uri, train_tiny(env.warehouse, iterations=10, seed=1), tmp_path / "artifacts")
            deadline = time.monotonic() + 120
            while new not in versions and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop.set()
            worker.join()
        assert c.get("/models/production", headers=H).json()["version"] == new == "2"
    assert statuses and set(statuses) == {200}
    assert versions == {"1", "2"}
    assert len(p_home["1"]) == len(p_home["2"]) == 1 and p_home["1"] != p_home["2"]


def test_schemathesis_no_server_errors(client):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_dict(client.app.openapi())
    failures: list[str] = []
    # One bounded hypothesis run per operation, every request through the in-process app.
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()

        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def check(case):
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            kwargs["headers"] = {**(kwargs.get("headers") or {}), **H}
            response = client.request(**kwargs)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        check()
    assert not failures, failures


@contextlib.contextmanager
def serve(env: ServingEnv, *args: str, extra_env: dict[str, str] | None = None):
    """``football-platform serve`` on the local profile (the SQLite online store under FOOTBALL_STATE_DIR/feast,
    the Redis prediction cache); yields the base URL once /health answers."""
    port = _closed_port()
    environ = {**os.environ, "FOOTBALL_ENV": "local", "FOOTBALL_STATE_DIR": str(env.base),
               "FOOTBALL_WAREHOUSE": str(env.warehouse.path), "MLFLOW_TRACKING_URI": env.tracking_uri,
               "REDIS_URL": env.settings.redis_url, "FOOTBALL_REDIS_PREFIX": env.settings.redis_key_prefix,
               "FOOTBALL_API_KEYS": API_KEY, "FOOTBALL_METRICS_KEYS": METRICS_KEY, **(extra_env or {})}
    exe = Path(sys.executable).parent / "football-platform"
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--no-access-log", *args], env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_subprocess_over_http(env):
    with serve(env) as base:
        assert httpx.get(f"{base}/predictions", timeout=5).status_code == 401
        listed = httpx.get(f"{base}/predictions", headers=H, timeout=5).json()
        assert listed["total"] == 10
        r = httpx.post(f"{base}/predict", json={"home_team": "Arsenal", "away_team": "Chelsea"}, headers=H, timeout=30)
        assert r.status_code == 200 and r.json()["model"]["version"] == "1"
        assert httpx.get(f"{base}/health/detailed", headers=H, timeout=5).json()["features"]["backend"] == "sqlite"


COUNTED = "/health/redis"  # a route only this test calls (serve() polls /health)


def _health_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "football_api_requests_total" and sample.labels.get("route") == COUNTED:
                return sample.value
    return 0.0


def test_metrics_aggregate_across_two_workers(env, tmp_path):
    """serve --workers 2 in multiprocess mode: requests spread over both workers, and /metrics from either one
    counts all of them."""
    from prometheus_client import multiprocess

    metrics_dir = tmp_path / "metrics"
    with serve(env, "--workers", "2", extra_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}) as base:
        sent, per_pid = 0, {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sum(1 for v in per_pid.values() if v > 0) < 2:
            for _ in range(10):
                with httpx.Client() as fresh:  # a new connection each time: the kernel picks the worker
                    assert fresh.get(f"{base}{COUNTED}", headers=H, timeout=5).status_code == 200
                sent += 1
            per_pid = {f.name: sum(_health_count_of(m) for m in multiprocess.MultiProcessCollector.merge([str(f)]))
                       for f in metrics_dir.glob("counter_*.db")}
        assert sum(1 for v in per_pid.values() if v > 0) == 2, per_pid
        assert sum(per_pid.values()) == sent
        for _ in range(4):  # whichever worker answers the scrape, it reports the whole server
            with httpx.Client() as fresh:
                assert _health_count(fresh.get(f"{base}/metrics", headers=SCRAPE, timeout=5).text) == sent


def _health_count_of(metric) -> float:
    return sum(s.value for s in metric.samples
               if s.name == "football_api_requests_total" and s.labels.get("route") == COUNTED)
