"""POST /predict's fast path and caches (serving/predict.py) on real components: the fast path accepts only what the
FastAPI route's schema accepts and answers the same, and no cache ever answers from online rows older than the last
materialisation (Feast's own write into Redis and SQLite, nothing reloaded by hand)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from benchmarks.serving_env import API_KEY, build_env, clean_redis, materialize_online, with_prefix
from football_platform.lib import feature_store as fs
from football_platform.lib.features import team_state_after
from serving.app import PredictRequest, ServingOptions, create_app
from serving.features import OnlineFeatureReader
from serving.predict import parse_body
from tests.conftest import REDIS_TEST_URL

pytestmark = pytest.mark.redis
H = {"X-API-Key": API_KEY}
FAST = ServingOptions(rate_limit_per_second=0, model_poll_seconds=3600, access_log=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = build_env(tmp_path_factory.getbasetemp() / "serving_env", REDIS_TEST_URL)
    yield env
    clean_redis(env.settings)


BODIES = [
    '{"home_team": "Arsenal", "away_team": "Chelsea"}',
    '{"home_team": " Arsenal ", "away_team": "Chelsea", "league": "E0", "kickoff": "2024-08-17"}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "league": null, "kickoff": null}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2024-02-30"}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2024-W33-6"}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "20240817"}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2024-08-17T00:00:00"}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": 1723852800}',
    '{"home_team": "Arsenal", "away_team": " Arsenal"}',
    '{"home_team": "   ", "away_team": "Chelsea"}',
    '{"home_team": "", "away_team": "Chelsea"}',
    '{"home_team": "' + "x" * 65 + '", "away_team": "Chelsea"}',
    '{"home_team": "' + "x" * 64 + '", "away_team": "Chelsea"}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "league": ""}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "league": "ABCDEFGHI"}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "league": 7}',
    '{"home_team": 1, "away_team": "Chelsea"}',
    '{"home_team": "Arsenal", "away_team": "Chelsea", "colour": "red"}',
    '{"home_team": "Arsenal"}',
    '["Arsenal", "Chelsea"]',
    '{"home_team": "Arsenal", "away_team": "Chelsea"',
    "null",
]


@pytest.mark.parametrize("body", BODIES)
def test_fast_path_accepts_only_what_the_schema_accepts_with_the_same_values(body):
    fast = parse_body(body.encode())
    try:
        model = PredictRequest.model_validate_json(body)
    except ValidationError:
        assert fast is None  # the route answers 422
        return
    if fast is not None:  # anything the fast path leaves to the route is fine; what it takes must agree
        assert fast == (model.home_team, model.away_team, model.league, model.kickoff)


def test_fast_path_takes_the_plain_bodies():
    """The bodies clients send (README's examples) do take the fast path."""
    for body in BODIES[:3]:
        assert parse_body(body.encode()) is not None, body


def test_fast_path_and_route_answer_alike(env):
    with TestClient(create_app(env.settings, FAST)) as c:
        body = json.dumps({"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2024-08-17"})
        fast = c.post("/predict", content=body, headers={**H, "Content-Type": "application/json"})
        # A content type FastAPI reads as JSON but the fast path leaves to the route.
        routed = c.post("/predict", content=body, headers={**H, "Content-Type": "application/vnd.api+json"})
        assert fast.status_code == routed.status_code == 200
        assert fast.json() == routed.json()
        assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
        for team in ("Arsenel", "Chelsee"):  # 404 with the closest names, from either path
            miss = json.dumps({"home_team": team, "away_team": "Everton"})
            a = c.post("/predict", content=miss, headers={**H, "Content-Type": "application/json"})
            b = c.post("/predict", content=miss, headers={**H, "Content-Type": "application/vnd.api+json"})
            assert (a.status_code, a.json()) == (b.status_code, b.json())
        assert a.status_code == 404 and "Chelsea" in a.json()["detail"]["closest"]
        metrics = c.get("/metrics").text
        line = next(x for x in metrics.splitlines()
                    if x.startswith("football_api_requests_total{") and 'route="/predict"' in x and '"200"' in x)
        assert float(line.split()[-1]) == 2.0


def test_fast_path_rate_limit_429_like_the_route(env):
    opts = replace(FAST, rate_limit_per_second=1, rate_limit_burst=3)
    with TestClient(create_app(env.settings, opts)) as c:
        body = {"home_team": "Arsenal", "away_team": "Chelsea"}
        answers = [c.post("/predict", json=body, headers=H) for _ in range(6)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    refused = [a for a in answers[3:] if a.status_code == 429]
    assert refused and refused[0].json() == {"detail": "rate limit exceeded"}
    assert int(refused[0].headers["retry-after"]) >= 1


def _stamped(matches: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    return matches[pd.to_datetime(matches["match_date"]) < day]


def test_caches_never_serve_rows_older_than_the_last_materialisation(env, tmp_path):
    """Predict cache on, both online stores: after Feast materialises newer team rows, the very next answer uses
    them (and equals a cache-less server's), with no reload of any kind."""
    prefix = f"fp_fresh_{uuid.uuid4().hex[:8]}"
    project = fs.project_name(prefix)
    matches = env.warehouse.query_df("SELECT * FROM raw.matches ORDER BY match_date, home_team")
    days = sorted(pd.to_datetime(matches["match_date"]).unique())
    first, second = pd.Timestamp(days[-30]), pd.Timestamp(days[-10])
    sqlite_path = fs.FeastPaths.for_state_dir(tmp_path).online_store
    body = {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2024-08-17"}
    try:
        materialize_online(tmp_path, _stamped(matches, first), team_state_after(_stamped(matches, first)), first,
                           project, REDIS_TEST_URL)

        def apps(cache: int) -> list[TestClient]:
            options = replace(FAST, predict_cache_size=cache)
            return [TestClient(create_app(env.settings, options, feature_reader=OnlineFeatureReader(
                        project, redis_url=REDIS_TEST_URL, cache_teams=cache > 0))),
                    TestClient(create_app(env.settings, options, feature_reader=OnlineFeatureReader(
                        project, sqlite_path=sqlite_path, cache_teams=cache > 0)))]

        cached, fresh = apps(16384), apps(0)
        for c in cached + fresh:
            c.__enter__()
        try:
            old = [c.post("/predict", json=body, headers=H).json() for c in cached]
            assert [c.post("/predict", json=body, headers=H).json() for c in cached] == old  # served again
            assert all(a["features_timestamp"] == first.tz_localize("UTC").isoformat() for a in old)

            materialize_online(tmp_path, _stamped(matches, second), team_state_after(_stamped(matches, second)),
                               second, project, REDIS_TEST_URL)
            new = [c.post("/predict", json=body, headers=H).json() for c in cached]
            reference = [c.post("/predict", json=body, headers=H).json() for c in fresh]
            assert new == reference
            for before, after in zip(old, new, strict=True):
                assert after["features_timestamp"] == second.tz_localize("UTC").isoformat()
                assert after["p_home"] != before["p_home"]  # Arsenal and Chelsea played in between
        finally:
            for c in cached + fresh:
                c.__exit__(None, None, None)
    finally:
        clean_redis(with_prefix(env, prefix).settings)
