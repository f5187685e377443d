"""batch_predictions and prediction_performance materialised by Dagster on real E0 data, dbt models, Redis and
MLflow: the batch reads analytics.team_state (the rows the online store serves) and staging.stg_fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from benchmarks.serving_env import FOOTBALL_DATA, register, train_tiny
from football_platform.defs.features.assets import team_state
from football_platform.defs.serving.assets import batch_predictions, prediction_performance
from football_platform.lib.loading import ingest_many, load_fixtures
from football_platform.lib.sources import DirectorySource, SourceFile
from football_platform.lib.warehouse import Warehouse
from football_platform.resources import ServingResource, WarehouseResource
from serving.features import redis_client
from tests.conftest import REDIS_TEST_URL, REPO_ROOT

pytestmark = pytest.mark.redis


def _dbt(wh: Warehouse, root: Path) -> None:
    """dbt seed + run of the models the serving assets read (own target and log dirs)."""
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "FOOTBALL_WAREHOUSE": str(wh.path), "FOOTBALL_DBT_TARGET": "local"}
    project = REPO_ROOT / "dbt_project"
    common = ["--project-dir", str(project), "--profiles-dir", str(project), "--target", "local",
              "--target-path", str(root / "dbt_target"), "--log-path", str(root / "dbt_logs")]
    for command in ([str(dbt), "seed", *common],
                    [str(dbt), "run", *common, "--select", "+fct_matches", "+stg_fixtures"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=project)
        assert done.returncode == 0, done.stdout[-3000:]


def test_batch_then_settled_performance(tmp_path):
    wh = Warehouse(kind="duckdb", path=tmp_path / "wh.duckdb")
    source = DirectorySource(FOOTBALL_DATA)
    ingest_many(wh, source, [("1920", "E0"), ("2021", "E0")])
    snap = FOOTBALL_DATA / "fixtures" / "2022-05-06" / "fixtures.csv"
    load_fixtures(wh, SourceFile("fixtures/2022-05-06/fixtures.csv", snap.read_bytes(),
                                 snapshot_date=pd.Timestamp("2022-05-06").date()), ["E0"])
    _dbt(wh, tmp_path)
    n_fixtures = int(wh.query_df("SELECT COUNT(*) AS n FROM staging.stg_fixtures")["n"][0])
    assert n_fixtures > 0
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register(uri, train_tiny(wh), tmp_path / "artifacts")
    prefix = f"fp_test_{uuid.uuid4().hex[:8]}"
    resources = {"warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(wh.path)),
                 "serving": ServingResource(redis_url=REDIS_TEST_URL, redis_key_prefix=prefix,
                                            mlflow_tracking_uri=uri)}
    client = redis_client(REDIS_TEST_URL)
    # The layout of earlier versions (a hash per team): the batch removes it.
    client.hset(f"{prefix}:teams", mapping={"Arsenal": "E0"})
    client.hset(f"{prefix}:team_state:Arsenal", mapping={"elo": "1500"})
    try:
        assert dg.materialize([team_state, batch_predictions], resources=resources).success
        preds = wh.query_df("SELECT * FROM analytics.predictions")
        # 2021/22 was not ingested yet: every fixture of the May 2022 snapshot is upcoming and predicted.
        assert len(preds) == n_fixtures
        assert set(preds["season"]) == {"2122"} and set(preds["model_version"]) == {"1"}
        assert (preds[["p_home", "p_draw", "p_away"]].sum(axis=1) - 1).abs().max() < 1e-9
        # The team states' event timestamp: the day after the last 2020/21 match day (2021-05-23).
        assert pd.Timestamp(preds["features_timestamp"].max()) == pd.Timestamp("2021-05-24", tz="UTC")
        cached = json.loads(client.get(f"{prefix}:predictions"))
        assert len(cached["items"]) == n_fixtures
        assert not client.exists(f"{prefix}:teams", f"{prefix}:team_state:Arsenal")

        ingest_many(wh, source, [("2122", "E0")])  # the results arrive: the predictions settle
        _dbt(wh, tmp_path)
        assert dg.materialize([prediction_performance], resources=resources).success
        perf = wh.query_df("SELECT * FROM analytics.prediction_performance")
        assert len(perf) == n_fixtures
        row = perf.iloc[0]
        cum = [row.p_home, row.p_home + row.p_draw]
        obs = {"H": [1, 1], "D": [0, 1], "A": [0, 0]}[row.outcome]
        assert row.rps_model == pytest.approx(((cum[0] - obs[0]) ** 2 + (cum[1] - obs[1]) ** 2) / 2)
        assert perf["rps_closing"].notna().all()  # 2021/22 files carry closing odds
        closing = [row.close_p_home, row.close_p_home + row.close_p_draw]
        assert row.rps_closing == pytest.approx(((closing[0] - obs[0]) ** 2 + (closing[1] - obs[1]) ** 2) / 2)
        assert json.loads(client.get(f"{prefix}:performance"))["matches"] == n_fixtures

        assert dg.materialize([batch_predictions], resources=resources).success  # nothing upcoming now
        history = wh.query_df("SELECT COUNT(DISTINCT generated_at) AS n, COUNT(*) AS rows FROM analytics.predictions")
        assert int(history["rows"][0]) == n_fixtures  # history kept, nothing new to add
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
