"""Shared set-up of the serving tests (no tests here): real E0 data, a tiny CatBoost registered in MLflow.

``build_env(base)`` is idempotent per directory so several modules of one session share the work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from football_platform.lib.features import FUNDAMENTAL_FEATURES, build_match_features
from football_platform.lib.loading import ingest_many, load_fixtures
from football_platform.lib.predictions import MODEL_NAME
from football_platform.lib.sources import DirectorySource, SourceFile
from football_platform.lib.warehouse import Warehouse
from football_platform.settings import Settings

FOOTBALL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "football-data"
SEASONS = ["2021", "2122", "2223", "2324"]
API_KEY = "test-bootstrap-key"


@dataclass(frozen=True)
class ServingEnv:
    base: Path
    warehouse: Warehouse
    tracking_uri: str
    settings: Settings


def train_tiny(warehouse: Warehouse, iterations: int = 30, seed: int = 0):
    from catboost import CatBoostClassifier

    matches = warehouse.query_df("SELECT * FROM raw.matches ORDER BY match_date")
    feats = build_match_features(matches)
    y = (matches["fthg"] < matches["ftag"]).astype(int) * 2 + (matches["fthg"] == matches["ftag"]).astype(int)
    x = feats[FUNDAMENTAL_FEATURES].copy()
    x["div"] = x["div"].astype(str)
    model = CatBoostClassifier(loss_function="MultiClass", iterations=iterations, depth=3, random_seed=seed,
                               cat_features=["div"], verbose=False, allow_writing_files=False, thread_count=1)
    return model.fit(x, y.to_numpy())


def register(tracking_uri: str, model, artifacts: Path, alias: str = "production") -> str:
    import mlflow
    import mlflow.catboost
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    if mlflow.get_experiment_by_name("serving-tests") is None:
        mlflow.create_experiment("serving-tests", artifact_location=artifacts.as_uri())
    mlflow.set_experiment("serving-tests")
    with mlflow.start_run():
        info = mlflow.catboost.log_model(model, name="model", registered_model_name=MODEL_NAME)
    version = str(info.registered_model_version)
    MlflowClient(tracking_uri, registry_uri=tracking_uri).set_registered_model_alias(MODEL_NAME, alias, version)
    return version


def build_env(base: Path, redis_url: str | None) -> ServingEnv:
    base.mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse(kind="duckdb", path=base / "warehouse.duckdb")
    tracking_uri = f"sqlite:///{base / 'mlflow.db'}"
    settings = Settings(warehouse_path=warehouse.path, state_dir=base, mlflow_tracking_uri=tracking_uri,
                        redis_url=redis_url, redis_key_prefix=f"fp_test_{uuid.uuid4().hex[:8]}",
                        api_keys=(API_KEY,), leagues=("E0",))
    if not (base / "READY").exists():
        ingest_many(warehouse, DirectorySource(FOOTBALL_DATA), [(s, "E0") for s in SEASONS])
        snap = FOOTBALL_DATA / "fixtures" / "2026-01-30" / "fixtures.csv"
        load_fixtures(warehouse, SourceFile("fixtures/2026-01-30/fixtures.csv", snap.read_bytes(),
                                            snapshot_date=pd.Timestamp("2026-01-30").date()), ["E0"])
        register(tracking_uri, train_tiny(warehouse), base / "artifacts")
        (base / "READY").write_text("ok")
    return ServingEnv(base, warehouse, tracking_uri, settings)


def publish_batch(env: ServingEnv) -> pd.DataFrame:
    """What ``batch_predictions`` does, without Dagster: predictions to the warehouse and Redis."""
    from football_platform.lib.features import team_state_after
    from football_platform.lib.predictions import fixture_odds, predict_fixtures, upcoming_fixtures
    from serving.features import records_for_api, redis_client
    from serving.model import ModelHolder
    from serving.publish import publish_redis, state_records, write_warehouse

    wh = env.warehouse
    matches = wh.query_df("SELECT * FROM raw.matches")
    upcoming = upcoming_fixtures(wh.query_df("SELECT * FROM raw.fixtures"), matches)
    states = team_state_after(matches, upcoming[["div", "season", "match_date", "home_team", "away_team"]])
    states = {t: r.to_dict() for t, r in states.iterrows()}
    holder = ModelHolder(env.tracking_uri)
    holder.check()
    assert holder.current is not None, holder.last_error
    preds, _ = predict_fixtures(upcoming, states, holder.current.model.model,
                                fixture_odds(wh.query_df("SELECT * FROM raw.fixture_odds")))
    generated = pd.Timestamp.now(tz="UTC")
    features_ts = pd.Timestamp(matches["match_date"].max()).tz_localize("UTC")
    preds = preds.assign(model_name=MODEL_NAME, model_version=holder.current.version, features_timestamp=features_ts,
                         generated_at=generated)
    preds["match_date"] = pd.to_datetime(preds["match_date"]).dt.date
    records = state_records(states, generated.isoformat(), features_ts.isoformat())
    write_warehouse(wh, preds, records, features_ts, generated)
    if env.settings.redis_url:
        publish_redis(redis_client(env.settings.redis_url), env.settings.redis_key_prefix, records_for_api(preds),
                      records, generated.isoformat())
    return preds


def clean_redis(settings: Settings) -> None:
    from serving.features import redis_client

    client = redis_client(settings.redis_url)
    keys = list(client.scan_iter(f"{settings.redis_key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def with_prefix(env: ServingEnv, prefix: str) -> ServingEnv:
    return replace(env, settings=replace(env.settings, redis_key_prefix=prefix))
