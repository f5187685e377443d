"""The pieces under POST /predict: Feast's online layouts read directly (checked against Feast's own encoders),
both online stores giving the same rows as the warehouse, and training/serving parity for a played match."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from benchmarks.serving_env import API_KEY, build_env, clean_redis, load_model, materialize_online
from football_platform.lib import feature_store as fs
from football_platform.lib.features import FUNDAMENTAL_FEATURES, build_match_features, team_state_after
from football_platform.lib.predictions import feature_row, model_input
from serving.app import ServingOptions, create_app
from serving.features import OnlineFeatureReader
from tests.conftest import REDIS_TEST_URL

pytestmark = pytest.mark.redis
FAST = ServingOptions(rate_limit_per_second=0, model_poll_seconds=3600, access_log=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = build_env(tmp_path_factory.getbasetemp() / "serving_env", REDIS_TEST_URL)
    yield env
    clean_redis(env.settings)


def test_entity_keys_and_fields_match_feasts_encoders():
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.infra.online_stores.helpers import _mmh3, _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    for team in ("Arsenal", "Nott'm Forest", "Málaga", "Ath Bilbao"):
        key = EntityKey(join_keys=["team"], entity_values=[Value(string_val=team)])
        assert fs.entity_key_bytes(team) == serialize_entity_key(key, entity_key_serialization_version=3)
        assert fs.redis_entity_key("fp_x", team) == _redis_key("fp_x", key, entity_key_serialization_version=3)
    for view, field in fs.ONLINE_FIELDS:
        assert fs.redis_field(view, field) == _mmh3(f"{view}:{field}")


def test_value_decoder_matches_feasts_protobuf():
    from feast.protos.feast.types.Value_pb2 import Value
    from google.protobuf.timestamp_pb2 import Timestamp

    cases = [Value(double_val=1712.25), Value(double_val=-0.125), Value(double_val=0.0), Value(string_val="E0:2324"),
             Value(string_val=""), Value(string_val="Málaga"), Value(int64_val=-7), Value(int32_val=38),
             Value(bool_val=True), Value(float_val=0.5)]
    for value in cases:
        kind = value.WhichOneof("val")
        assert fs.decode_value(value.SerializeToString()) == getattr(value, kind), kind
    assert math.isnan(fs.decode_value(Value(double_val=float("nan")).SerializeToString()))
    assert fs.decode_value(Value().SerializeToString()) is None and fs.decode_value(None) is None
    with pytest.raises(ValueError, match="unsupported Feast value"):
        fs.decode_value(Value(double_list_val={"val": [1.0, 2.0]}).SerializeToString())
    stamp = Timestamp(seconds=1716163200, nanos=500_000_000)
    assert fs.decode_timestamp(stamp.SerializeToString()) == 1716163200.5


def test_both_online_stores_serve_the_warehouse_team_state(env):
    """Redis (prod layout) and SQLite (local) hold, for every team, the state analytics.team_state holds."""
    redis_reader = OnlineFeatureReader(env.project, redis_url=REDIS_TEST_URL)
    sqlite_reader = OnlineFeatureReader.for_settings(env.settings)
    assert sqlite_reader.backend == "sqlite" and redis_reader.backend == "redis"
    expected = fs.states_from_rows(env.warehouse.query_df("SELECT * FROM analytics.team_state"))
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
