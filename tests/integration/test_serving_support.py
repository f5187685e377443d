"""The pieces under POST /predict: Feast's online layouts read directly (checked against Feast's own encoders),
both online stores giving the same rows as the warehouse, training/serving parity for a played match, the fast path
(serving/predict.py) accepting only what the route's schema accepts and answering the same, and no cache ever
answering from online rows older than the last materialisation (Feast's own write, nothing reloaded by hand)."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from benchmarks.serving_env import API_KEY, METRICS_KEY, clean_redis, load_model, materialize_online, with_prefix
from football_platform.lib import feature_rows as frows
from football_platform.lib import feature_store as fs
from football_platform.lib.features import FUNDAMENTAL_FEATURES, build_match_features, team_state_after
from football_platform.lib.predictions import feature_row, model_input
from serving import online_layout as layout
from serving.app import PredictRequest, ServingOptions, create_app
from serving.features import OnlineFeatureReader
from serving.predict import parse_body
from tests.conftest import REDIS_TEST_URL

pytestmark = pytest.mark.redis
FAST = ServingOptions(rate_limit_per_second=0, model_poll_seconds=3600, access_log=False)
H = {"X-API-Key": API_KEY}


def test_entity_keys_and_fields_match_feasts_encoders():
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.infra.online_stores.helpers import _mmh3, _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    for team in ("Arsenal", "Nott'm Forest", "Málaga", "Ath Bilbao"):
        key = EntityKey(join_keys=["team"], entity_values=[Value(string_val=team)])
        assert layout.entity_key_bytes(team) == serialize_entity_key(key, entity_key_serialization_version=3)
        assert layout.redis_entity_key("fp_x", team) == _redis_key("fp_x", key, entity_key_serialization_version=3)
    for view, field in layout.ONLINE_FIELDS:
        assert layout.redis_field(view, field) == _mmh3(f"{view}:{field}")


def test_value_decoder_matches_feasts_protobuf():
    from feast.protos.feast.types.Value_pb2 import Value
    from google.protobuf.timestamp_pb2 import Timestamp

    cases = [Value(double_val=1712.25), Value(double_val=-0.125), Value(double_val=0.0), Value(string_val="E0:2324"),
             Value(string_val=""), Value(string_val="Málaga"), Value(int64_val=-7), Value(int32_val=38),
             Value(bool_val=True), Value(float_val=0.5)]
    for value in cases:
        kind = value.WhichOneof("val")
        assert layout.decode_value(value.SerializeToString()) == getattr(value, kind), kind
    assert math.isnan(layout.decode_value(Value(double_val=float("nan")).SerializeToString()))
    assert layout.decode_value(Value().SerializeToString()) is None and layout.decode_value(None) is None
    with pytest.raises(ValueError, match="unsupported Feast value"):
        layout.decode_value(Value(double_list_val={"val": [1.0, 2.0]}).SerializeToString())
    stamp = Timestamp(seconds=1716163200, nanos=500_000_000)
    assert layout.decode_timestamp(stamp.SerializeToString()) == 1716163200.5


def test_both_online_stores_serve_the_warehouse_team_state(env):
    """Redis (prod layout) and SQLite (local) hold, for every team, the state analytics.team_state holds."""
    redis_reader = OnlineFeatureReader(env.project, redis_url=REDIS_TEST_URL)
    sqlite_reader = OnlineFeatureReader.for_settings(env.settings)
    assert sqlite_reader.backend == "sqlite" and redis_reader.backend == "redis"
    expected = frows.states_from_rows(env.warehouse.query_df("SELECT * FROM analytics.team_state"))
    teams = sorted(expected)
    assert len(teams) >= 20
    for home, away in zip(teams[::2], teams[1::2], strict=False):
        for reader in (redis_reader, sqlite_reader):
            rows = reader.pair(home, away)
            for team, row in zip((home, away), rows, strict=True):
                assert row is not None, (reader.backend, team)
                assert row.timestamp == pd.Timestamp("2024-05-20", tz="UTC")  # the day after the last result
                for key, want in expected[team].items():
                    got = row.state[key]
                    assert got == want or (pd.isna(got) and pd.isna(want)), (reader.backend, team, key)
    assert redis_reader.pair("Arsenal", "Atlantis")[1] is None
    assert sqlite_reader.pair("Atlantis", "Arsenal")[0] is None


def _monday_after_a_sunday(matches: pd.DataFrame) -> pd.Timestamp:
    """A Monday match day whose previous match day is the Sunday before: the Dixon-Coles weekly refit of the
    training features then uses exactly the matches a state computed after that Sunday uses."""
    days = sorted(pd.to_datetime(matches["match_date"]).unique())
    for prev, day in zip(days[:-1], days[1:], strict=True):
        day, prev = pd.Timestamp(day), pd.Timestamp(prev)
        if day.dayofweek == 0 and (day - prev).days == 1 and day > days[len(days) // 2]:
            return day
    raise AssertionError("no Monday after a Sunday in the data")


def test_api_features_equal_training_features_for_a_played_match(env, tmp_path: Path):
    """Training/serving parity: publish the states as they stood before a played match to an online store; the
    model row /predict builds from it equals that match's training row, and /predict's probabilities are the
    model's on the training row."""
    matches = env.warehouse.query_df("SELECT * FROM raw.matches ORDER BY match_date, home_team")
    matches["match_date"] = pd.to_datetime(matches["match_date"])
    day = _monday_after_a_sunday(matches)
    before = matches[matches["match_date"] < day]
    match = matches[matches["match_date"] == day].iloc[0]
    project = "fp_parity"
    materialize_online(tmp_path, before, team_state_after(before), day, project, redis_url=None)
    reader = OnlineFeatureReader(project, sqlite_path=fs.FeastPaths.for_state_dir(tmp_path).online_store)
    home, away = reader.pair(match["home_team"], match["away_team"])
    model, _ = load_model(env.tracking_uri)
    names = list(model.feature_names_)
    assert set(names) == set(FUNDAMENTAL_FEATURES)
    served, _ = model_input(home.state, away.state, day, names, div="E0", season=match["season"])

    training = build_match_features(matches)  # the training set's rows (test_features_feast: same via Feast)
    trained = feature_row(training.loc[match.name].to_dict(), names)
    for name, got, want in zip(names, served, trained, strict=True):
        same = got == want or (isinstance(got, float) and math.isnan(got) and math.isnan(want))
        assert same, (name, got, want)

    with TestClient(create_app(env.settings, FAST, feature_reader=reader)) as client:
        body = {"home_team": match["home_team"], "away_team": match["away_team"], "kickoff": str(day.date())}
        answer = client.post("/predict", json=body, headers={"X-API-Key": API_KEY}).json()
    p = np.asarray(model.predict_proba([trained])[0])
    assert [answer["p_home"], answer["p_draw"], answer["p_away"]] == pytest.approx(list(p), abs=0, rel=1e-12)
    assert answer["season"] == match["season"] and answer["features_timestamp"].startswith(str(day.date()))


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
        metrics = c.get("/metrics", headers={"X-API-Key": METRICS_KEY}).text
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


def test_redis_reader_reconnects_after_losing_its_connection(env):
    """The event-loop Redis reader of /predict: when Redis drops its connection, requests answer 503 at worst and the
    reader opens a new connection by itself."""
    from serving.features import redis_client

    reader = OnlineFeatureReader(env.project, redis_url=REDIS_TEST_URL, warehouse=env.warehouse)
    body = {"home_team": "Arsenal", "away_team": "Chelsea"}
    with TestClient(create_app(env.settings, replace(FAST, predict_cache_size=0), feature_reader=reader)) as c:
        first = c.post("/predict", json=body, headers=H)
        assert first.status_code == 200
        host, port = reader._async._proto.transport.get_extra_info("sockname")[:2]
        assert redis_client(REDIS_TEST_URL).client_kill(f"{host}:{port}")  # this connection only
        statuses = [c.post("/predict", json=body, headers=H).status_code for _ in range(3)]
        assert set(statuses) <= {200, 503} and statuses[-1] == 200, statuses
        assert c.post("/predict", json=body, headers=H).json() == first.json()
        assert reader._async._proto.transport.get_extra_info("sockname")[1] != port
