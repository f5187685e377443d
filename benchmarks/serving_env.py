"""A small serving environment on real components, shared by the serving tests and ``benchmarks.serving``.

``build_env(base, redis_url)`` ingests four seasons of E0 and the 2026-01-30 fixtures snapshot into a
warehouse (DuckDB, or PostgreSQL with ``database_url``), writes ``analytics.team_state`` as the ``team_state``
asset does, registers a CatBoost as ``models:/football-match-outcome@production`` in a SQLite MLflow (a tiny one
for the tests; ``model="production"``: the pipeline's own candidate, ``train_production``), and
fills Feast's online stores with Feast itself (``apply`` + ``materialize``): the SQLite store of the local profile
and, given ``redis_url``, the Redis store of the prod profile (project = the key prefix), so the API reads
exactly what Feast wrote. ``publish_batch(env)`` does what the ``batch_predictions`` asset does, without Dagster or
dbt (E0's source names are its canonical names). Idempotent per directory: several test modules share the work.
``leagues`` widens the data to more divisions (the benchmark uses all six: thousands of distinct pairings).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from football_platform.contracts import MODEL_NAME
from football_platform.lib import feature_rows as frows
from football_platform.lib import feature_store as fs
from football_platform.lib import feature_tables as ftables
from football_platform.lib.features import FUNDAMENTAL_FEATURES, build_match_features, team_state_after
from football_platform.lib.loading import ingest_many, load_fixtures
from football_platform.lib.sources import DirectorySource, SourceFile
from football_platform.lib.warehouse import Warehouse
from football_platform.settings import FEATURE_REPO_DIR, PROJECT_ROOT, Settings

SHARED_DATA = Path(os.environ.get("FOOTBALL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
FOOTBALL_DATA = SHARED_DATA / "football-data"
SEASONS = ["2021", "2122", "2223", "2324"]
SNAPSHOT = "2026-01-30"
API_KEY = "test-bootstrap-key"
METRICS_KEY = "test-metrics-key"  # scope metrics only: what Prometheus scrapes /metrics with


@dataclass(frozen=True)
class ServingEnv:
    base: Path
    warehouse: Warehouse
    tracking_uri: str
    settings: Settings

    @property
    def project(self) -> str:
        """Feast project (and Redis key prefix) of the online store."""
        return fs.project_name(self.settings.redis_key_prefix)


def train_tiny(warehouse: Warehouse, iterations: int = 30, seed: int = 0):
    """A small CatBoost on the fundamental features of every match in raw.matches (fast, not good)."""
    from catboost import CatBoostClassifier

    matches = warehouse.query_df("SELECT * FROM raw.matches ORDER BY match_date")
    feats = build_match_features(matches)
    y = (matches["fthg"] < matches["ftag"]).astype(int) * 2 + (matches["fthg"] == matches["ftag"]).astype(int)
    x = feats[FUNDAMENTAL_FEATURES].copy()
    x["div"] = x["div"].astype(str)
    model = CatBoostClassifier(loss_function="MultiClass", iterations=iterations, depth=3, random_seed=seed,
                               cat_features=["div"], verbose=False, allow_writing_files=False, thread_count=1)
    return model.fit(x, y.to_numpy())


def train_production(warehouse: Warehouse, tracking_uri: str, artifacts: Path, leagues: tuple[str, ...]) -> str:
    """The model the pipeline trains and promotes, on this warehouse's matches: ``trained_model``'s default
    candidate (``catboost_market_aware``: same hyperparameters, feature set and market baseline), fitted on the
    ``analytics.training_set`` layout, logged and registered through the project's registry helpers (so it loads
    as :class:`OffsetCatBoost`, exactly as production does) and aliased ``production``."""
    from football_platform.defs.ml.data import load_matches, training_frame
    from football_platform.lib import registry
    from football_platform.lib.models import make_model

    matches = load_matches(warehouse, list(leagues))
    frame = training_frame(matches, build_match_features(matches))
    model = make_model("catboost_market_aware", thread_count=2).fit(frame)
    target = registry.MlflowTarget(tracking_uri=tracking_uri, artifact_location=artifacts.as_uri())
    logged = registry.log_catboost_run(target, model.predictor_, frame[model.features], params={"candidate": model.name},
                                       metrics={}, tags={"purpose": "serving benchmark"})
    return registry.register(target, logged, alias=registry.PRODUCTION)


def register(tracking_uri: str, model: Any, artifacts: Path, alias: str = "production") -> str:
    """Log ``model`` (native CatBoost flavour), register it and point ``alias`` at the new version."""
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


def online_store_configs(base: Path, project: str, redis_url: str | None) -> list[dict[str, Any]]:
    """Feast configs for the online stores to fill: the local profile's SQLite file under ``base/feast`` and,
    with ``redis_url``, Feast's Redis store (file registry and offline source in both: only the online layout
    matters to the API)."""
    local = fs.store_config("local", base)
    local["project"] = project
    configs = [local]
    if redis_url:
        paths = fs.FeastPaths.for_state_dir(base)
        configs.append({**local, "registry": {**local["registry"], "path": str(paths.root / "registry_redis.db")},
                        "online_store": {"type": "redis",
                                         "connection_string": fs.redis_connection_string(redis_url)}})
    return configs


def materialize_online(base: Path, matches: pd.DataFrame, states: pd.DataFrame, as_of: pd.Timestamp, project: str,
                       redis_url: str | None) -> None:
    """Team rows (match rows of ``matches`` + state rows of ``states`` stamped ``as_of``) into the parquet offline
    source under ``base/feast``, then ``feast apply`` + ``materialize`` into each online store."""
    from feast import FeatureStore

    paths = fs.FeastPaths.for_state_dir(base)
    paths.team_features.parent.mkdir(parents=True, exist_ok=True)
    match_rows = frows.team_match_rows(build_match_features(matches),
                                    frows.kickoff_utc(matches["match_date"], matches.get("kickoff_time")))
    state = frows.state_rows(states, as_of)
    frows.team_feature_rows(match_rows, state).to_parquet(paths.team_features, index=False)
    objects = list(fs.build_feast_objects("local", paths).values())
    start = pd.Timestamp(matches["match_date"].min(), tz="UTC") - pd.Timedelta(days=1)
    end = pd.Timestamp(state["event_timestamp"].max()) + pd.Timedelta(seconds=1)
    for config in online_store_configs(base, project, redis_url):
        store = FeatureStore(config=fs.repo_config(config, FEATURE_REPO_DIR))
        store.apply(objects)
        store.materialize(start.to_pydatetime(), end.to_pydatetime())


def _state_as_of(matches: pd.DataFrame) -> pd.Timestamp:
    """The team_state asset's stamp: the day after the last result."""
    return pd.Timestamp(pd.to_datetime(matches["match_date"]).max()).normalize() + pd.Timedelta(days=1)


def build_env(base: Path, redis_url: str | None, database_url: str | None = None, prefix: str | None = None,
              leagues: tuple[str, ...] = ("E0",), model: str = "tiny") -> ServingEnv:
    """See the module docstring. ``database_url`` puts the warehouse on PostgreSQL (the prod profile's);
    ``model``: ``tiny`` (tests) or ``production`` (:func:`train_production`)."""
    if model not in ("tiny", "production"):
        raise ValueError(f"model must be 'tiny' or 'production', not {model!r}")
    from football_platform.lib.predictions import upcoming_fixtures

    base.mkdir(parents=True, exist_ok=True)
    ready = base / "READY"
    if database_url:
        warehouse = Warehouse(kind="postgres", url=database_url)
    else:
        warehouse = Warehouse(kind="duckdb", path=base / "warehouse.duckdb")
    tracking_uri = f"sqlite:///{base / 'mlflow.db'}"
    prefix = prefix or (ready.read_text().strip() if ready.exists() else f"fp_test_{uuid.uuid4().hex[:8]}")
    settings = Settings(profile="prod" if database_url else "local", warehouse_path=base / "warehouse.duckdb",
                        database_url=database_url, state_dir=base, mlflow_tracking_uri=tracking_uri,
                        redis_url=redis_url, redis_key_prefix=prefix, api_keys=(API_KEY,), metrics_keys=(METRICS_KEY,),
                        leagues=tuple(leagues))
    env = ServingEnv(base, warehouse, tracking_uri, settings)
    if ready.exists():
        return env
    ingest_many(warehouse, DirectorySource(FOOTBALL_DATA), [(s, d) for s in SEASONS for d in leagues])
    snap = FOOTBALL_DATA / "fixtures" / SNAPSHOT / "fixtures.csv"
    load_fixtures(warehouse, SourceFile(f"fixtures/{SNAPSHOT}/fixtures.csv", snap.read_bytes(),
                                        snapshot_date=pd.Timestamp(SNAPSHOT).date()), list(leagues))
    matches = warehouse.query_df("SELECT * FROM raw.matches ORDER BY match_date, home_team")
    upcoming = upcoming_fixtures(warehouse.query_df("SELECT * FROM raw.fixtures"), matches)
    states = team_state_after(matches, upcoming[["div", "season", "match_date", "home_team", "away_team"]])
    ftables.replace_table(warehouse, "analytics.team_state", frows.state_rows(states, _state_as_of(matches)))
    materialize_online(base, matches, states, _state_as_of(matches), env.project, redis_url)
    if model == "production":
        train_production(warehouse, tracking_uri, base / "artifacts", tuple(leagues))
    else:
        register(tracking_uri, train_tiny(warehouse), base / "artifacts")
    ready.write_text(prefix)
    return env


def load_model(tracking_uri: str):
    """``(native model, version)`` of the production alias, loaded like the API does."""
    from serving.model import ModelHolder

    holder = ModelHolder(tracking_uri)
    holder.check()
    if holder.current is None:
        raise RuntimeError(f"no production model: {holder.last_error}")
    return holder.current.model, holder.current.version


def publish_batch(env: ServingEnv) -> pd.DataFrame:
    """What ``batch_predictions`` does: team states from analytics.team_state, predictions of the upcoming
    fixtures into analytics.predictions and (with Redis) the serving cache."""
    from football_platform.lib.predictions import fixture_odds, predict_fixtures, upcoming_fixtures
    from football_platform.lib.publish import publish_redis, write_warehouse
    from serving.features import records_for_api, redis_client

    wh = env.warehouse
    matches = wh.query_df("SELECT div, season, home_team, away_team FROM raw.matches")
    upcoming = upcoming_fixtures(wh.query_df("SELECT * FROM raw.fixtures"), matches)
    rows = wh.query_df("SELECT * FROM analytics.team_state")
    model, version = load_model(env.tracking_uri)
    preds, _ = predict_fixtures(upcoming, frows.states_from_rows(rows), model,
                                fixture_odds(wh.query_df("SELECT * FROM raw.fixture_odds")))
    generated = pd.Timestamp.now(tz="UTC")
    features_ts = pd.Timestamp(pd.to_datetime(rows["event_timestamp"], utc=True).min())
    preds = preds.assign(model_name=MODEL_NAME, model_version=version, features_timestamp=features_ts,
                         generated_at=generated)
    preds["match_date"] = pd.to_datetime(preds["match_date"]).dt.date
    write_warehouse(wh, preds)
    if env.settings.redis_url:
        publish_redis(redis_client(env.settings.redis_url), env.settings.redis_key_prefix, records_for_api(preds),
                      generated.isoformat())
    return preds


def clean_redis(settings: Settings) -> None:
    """Remove the prediction cache keys (``<prefix>:*``) and Feast's online rows of the project."""
    from serving.features import redis_client

    client = redis_client(settings.redis_url)
    project = fs.project_name(settings.redis_key_prefix).encode()
    keys = list(client.scan_iter(f"{settings.redis_key_prefix}:*", count=1000))
    keys += [k for k in client.scan_iter(b"*" + project, count=1000) if k.endswith(project)]
    if keys:
        client.delete(*keys)


def with_prefix(env: ServingEnv, prefix: str) -> ServingEnv:
    return replace(env, settings=replace(env.settings, redis_key_prefix=prefix))
