"""batch_predictions and prediction_performance materialised by Dagster on real E0 data, Redis and MLflow."""

from __future__ import annotations

import json
import uuid

import dagster as dg
import pandas as pd
import pytest

from football_platform.defs.serving import ServingResource
from football_platform.defs.serving.assets import batch_predictions, prediction_performance
from football_platform.lib.loading import ingest_many, load_fixtures
from football_platform.lib.sources import DirectorySource, SourceFile
from football_platform.lib.warehouse import Warehouse
from football_platform.resources import WarehouseResource
from serving.features import redis_client
from tests.conftest import REDIS_TEST_URL
from tests.integration.test_serving_support import FOOTBALL_DATA, register, train_tiny

pytestmark = pytest.mark.redis


def test_batch_then_settled_performance(tmp_path):
    wh = Warehouse(kind="duckdb", path=tmp_path / "wh.duckdb")
    source = DirectorySource(FOOTBALL_DATA)
    ingest_many(wh, source, [("1920", "E0"), ("2021", "E0")])
    snap = FOOTBALL_DATA / "fixtures" / "2022-05-06" / "fixtures.csv"
    load_fixtures(wh, SourceFile("fixtures/2022-05-06/fixtures.csv", snap.read_bytes(),
                                 snapshot_date=pd.Timestamp("2022-05-06").date()), ["E0"])
    n_fixtures = int(wh.query_df("SELECT COUNT(*) AS n FROM raw.fixtures")["n"][0])
    assert n_fixtures > 0
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register(uri, train_tiny(wh), tmp_path / "artifacts")
    prefix = f"fp_test_{uuid.uuid4().hex[:8]}"
    resources = {"warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(wh.path)),
                 "serving": ServingResource(redis_url=REDIS_TEST_URL, redis_key_prefix=prefix,
                                            mlflow_tracking_uri=uri)}
    assets = [batch_predictions, prediction_performance]
    client = redis_client(REDIS_TEST_URL)
    try:
        assert dg.materialize([assets[0]], resources=resources).success
        preds = wh.query_df("SELECT * FROM analytics.predictions")
        # 2021/22 was not ingested yet: every fixture of the May 2022 snapshot is upcoming and predicted.
        assert len(preds) == n_fixtures
        assert set(preds["season"]) == {"2122"} and set(preds["model_version"]) == {"1"}
        assert (preds[["p_home", "p_draw", "p_away"]].sum(axis=1) - 1).abs().max() < 1e-9
        assert str(preds["features_timestamp"].max()).startswith("2021-05-23")  # last 2020/21 match day
        cached = json.loads(client.get(f"{prefix}:predictions"))
        assert len(cached["items"]) == n_fixtures
        assert client.hget(f"{prefix}:teams", "Arsenal") == b"E0"

        ingest_many(wh, source, [("2122", "E0")])  # the results arrive: the predictions settle
        assert dg.materialize(assets, resources=resources, selection=["prediction_performance"]).success
        perf = wh.query_df("SELECT * FROM analytics.prediction_performance")
        assert len(perf) == n_fixtures
        row = perf.iloc[0]
        cum = [row.p_home, row.p_home + row.p_draw]
        obs = {"H": [1, 1], "D": [0, 1], "A": [0, 0]}[row.outcome]
        assert row.rps_model == pytest.approx(((cum[0] - obs[0]) ** 2 + (cum[1] - obs[1]) ** 2) / 2)
        assert perf["rps_closing"].notna().all()  # 2021/22 files carry closing odds
        assert json.loads(client.get(f"{prefix}:performance"))["matches"] == n_fixtures

        assert dg.materialize([assets[0]], resources=resources).success  # nothing upcoming now
        history = wh.query_df("SELECT COUNT(DISTINCT generated_at) AS n, COUNT(*) AS rows FROM analytics.predictions")
        assert int(history["rows"][0]) == n_fixtures  # history kept, nothing new to add
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
