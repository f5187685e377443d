"""trained_model / production_model on real Dagster and real MLflow (SQLite tracking in tmp_path).

The training set is built from the real E0 files (2015/16-2023/24) with the project's own ingestion and
feature code, written to ``analytics.training_set`` as the features engineer's asset will.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from football_platform.defs.ml import production_model, trained_model
from football_platform.defs.ml.data import load_matches, training_frame
from football_platform.lib import registry
from football_platform.lib.features import MARKET_AWARE_FEATURES, build_match_features
from football_platform.lib.loading import ingest_many
from football_platform.lib.models import OffsetCatBoost
from football_platform.lib.sources import DirectorySource
from football_platform.lib.warehouse import Warehouse
from football_platform.resources import warehouse_resource
from football_platform.resources.mlflow_registry import mlflow_resource
from football_platform.settings import get_settings

SEASONS = ["1516", "1617", "1718", "1819", "1920", "2021", "2122", "2223", "2324"]
CHEAP = ["base_rates", "elo_ol", "pi_ol", "dixon_coles"]


def write_training_set(warehouse: Warehouse, frame: pd.DataFrame) -> None:
    """Replace ``analytics.training_set`` without Feast (the training_set asset writes it in a deployment)."""
    with warehouse.connect() as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        if warehouse.is_duckdb:
            conn.raw.register("training_set_df", frame)
            conn.raw.execute("CREATE OR REPLACE TABLE analytics.training_set AS SELECT * FROM training_set_df")
            conn.raw.unregister("training_set_df")
        else:
            raise NotImplementedError("write_training_set is a DuckDB test helper")


@pytest.fixture(scope="module")
def state(tmp_path_factory, football_data_dir: Path):
    """A state dir with a DuckDB warehouse holding analytics.training_set for E0 2015/16-2023/24."""
    root = tmp_path_factory.mktemp("ml_state")
    settings = get_settings({"FOOTBALL_STATE_DIR": str(root)})
    warehouse = warehouse_resource(settings).get()
    ingest_many(warehouse, DirectorySource(football_data_dir), [(s, "E0") for s in SEASONS])
    matches = load_matches(warehouse, ["E0"])
    write_training_set(warehouse, training_frame(matches, build_match_features(matches)))
    return settings


def _materialize(settings, assets, config: dict):
    resources = {"warehouse": warehouse_resource(settings), "mlflow": mlflow_resource(settings)}
    return dg.materialize(
        assets, resources=resources, run_config={"ops": config}, selection=[a.key for a in assets],
        raise_on_error=True,
    )


def _checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def test_train_register_promote_and_reject(state) -> None:
    settings = state
    target = mlflow_resource(settings).target()
    good = {"candidate": "catboost_market_aware", "comparison_models": CHEAP, "eval_seasons": 2,
            "iterations": 150, "thread_count": 2}

    # 1. a training run: logged, registered as version 1, alias challenger
    first = _materialize(settings, [trained_model], {"trained_model": {"config": good}})
    meta = first.asset_materializations_for_node("trained_model")[0].metadata
    assert meta["version"].value == "1"
    assert meta["eval_seasons"].value == "2223, 2324"
    assert meta["n_eval_matches"].value == 760  # two complete EPL seasons
    assert "data:image/png;base64," in meta["reliability_diagram"].value
    checks = _checks(first)
    assert set(checks) == {"beats_baselines", "calibration_within_bounds"}
    assert checks["beats_baselines"].passed, checks["beats_baselines"].metadata["comparison"].value

    client = registry.client(target)
    run = client.get_run(meta["run_id"].value)
    assert client.get_experiment(run.info.experiment_id).name == "football-match-outcome"
    assert client.get_experiment(run.info.experiment_id).artifact_location == (
        (settings.state_dir.resolve() / "mlartifacts").as_uri())
    assert run.data.params["candidate"] == "catboost_market_aware"
    assert run.data.params["eval_seasons"] == "2223,2324"
    assert run.data.params["model.iterations"] == "150"
    m = run.data.metrics
    for key in ("rps", "log_loss", "brier", "ece_H", "ece_D", "ece_A", "closing_rps", "closing_log_loss",
                "closing_brier", "rps_E0", "rps_closing_E0", "base_rates_rps"):
        assert key in m, key
    # RPS of a 3-outcome forecast lies in [0, 1]; any usable model and the closing line sit far below 0.25 on EPL
    assert 0.15 < m["closing_rps"] < m["rps"] < m["base_rates_rps"] < 0.26
    assert m["n"] == 760 and m["closing_n"] <= 760
    assert run.data.tags["feature_service"] == "match_outcome_v1"
    assert len(run.data.tags["data_hash"]) == 16
    assert run.data.tags["features"].count('"') == 2 * len(MARKET_AWARE_FEATURES)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"plots", "evaluation", "feature_importance.csv"} <= artifacts
    nested = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert "evaluation/metrics_by_league.csv" in nested and "evaluation/candidate_predictions.csv" in nested
    assert [a.path for a in client.list_artifacts(run.info.run_id, "plots")] == ["plots/reliability.png"]
    assert str(registry.alias_version(target, "challenger").version) == "1"
    assert registry.alias_version(target, "production") is None

    # 2. the gate promotes version 1: no production exists yet
    gate = _materialize(settings, [production_model], {})
    gmeta = gate.asset_materializations_for_node("production_model")[0].metadata
    assert gmeta["version"].value == "1" and gmeta["promoted"].value is True
    assert gmeta["promoted_at"].value
    assert _checks(gate)["promotion_gate"].passed
    assert str(registry.alias_version(target, "production").version) == "1"

    # 3. a deliberately weak version 2 is kept out: a handful of shallow trees at a tiny learning rate, and no
    #    odds (the market-aware model boosts from the market, so few trees there would just be the market)
    weak = {**good, "candidate": "catboost_fundamentals", "iterations": 5, "depth": 1, "learning_rate": 0.01}
    second = _materialize(settings, [trained_model], {"trained_model": {"config": weak}})
    assert second.asset_materializations_for_node("trained_model")[0].metadata["version"].value == "2"
    assert str(registry.alias_version(target, "challenger").version) == "2"
    gate2 = _materialize(settings, [production_model], {})
    g2 = gate2.asset_materializations_for_node("production_model")[0].metadata
    assert g2["promoted"].value is False
    assert g2["challenger_rps"].value > g2["production_rps"].value
    assert g2["delta_rps"].value > 0
    assert not _checks(gate2)["promotion_gate"].passed
    assert str(registry.alias_version(target, "production").version) == "1"

    # 4. the production model (boosted from the market) loads wrapped, adding the baseline the native model ignores
    assert run.data.params["baseline"] == "market"
    model, version = registry.load_model_version(target.tracking_uri, target.model_name, "production")
    assert str(version.version) == "1" and version.tags["baseline"] == "market"
    assert isinstance(model, OffsetCatBoost)
    features = registry.model_features(target)
    assert model.feature_names_ == features
    frame = warehouse_resource(settings).get().query_df(
        "SELECT * FROM analytics.training_set WHERE season = '2324' LIMIT 20")
    x = frame[features].copy()
    x["div"] = x["div"].astype(str)
    probs = model.predict_proba(x)
    assert probs.shape == (20, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert (probs > 0).all()
    raw = model.model.predict(x, prediction_type="RawFormulaVal")
    market = x[["match_market_p_home", "match_market_p_draw", "match_market_p_away"]].to_numpy(float)
    market = np.where(np.isnan(market), x[["match_dc_p_home", "match_dc_p_draw", "match_dc_p_away"]].to_numpy(float),
                      market)
    z = np.exp(raw + np.log(market / market.sum(axis=1, keepdims=True)))
    np.testing.assert_allclose(probs, z / z.sum(axis=1, keepdims=True), atol=1e-6)
    assert np.abs(model.model.predict_proba(x) - probs).max() > 0.02  # the native flavour alone is wrong


def test_mlflow_resource_local_profile(tmp_path: Path) -> None:
    settings = get_settings({"FOOTBALL_STATE_DIR": str(tmp_path)})
    resource = mlflow_resource(settings)
    assert resource.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resource.artifact_location == (tmp_path.resolve() / "mlartifacts").as_uri()
    prod = mlflow_resource(dataclasses.replace(settings, profile="prod", mlflow_tracking_uri="http://mlflow:5000"))
    assert prod.artifact_location is None and prod.tracking_uri == "http://mlflow:5000"


def test_bootstrap_rule_promotes_the_first_model_without_the_calibration_check(state, tmp_path: Path) -> None:
    """No production yet: beating the base rates and the market-free baselines is enough (calibration reported);
    once a production model exists, calibration is required again."""
    settings = get_settings({"FOOTBALL_STATE_DIR": str(tmp_path), "FOOTBALL_WAREHOUSE": str(state.warehouse_path)})
    target = mlflow_resource(settings).target()
    strict = {"candidate": "catboost_market_aware", "comparison_models": CHEAP, "eval_seasons": 1,
              "iterations": 150, "thread_count": 2, "ece_bound": 0.001}  # no model is that well calibrated
    first = _materialize(settings, [trained_model], {"trained_model": {"config": strict}})
    checks = _checks(first)
    assert checks["beats_baselines"].passed and not checks["calibration_within_bounds"].passed
    gate = _materialize(settings, [production_model], {})
    meta = gate.asset_materializations_for_node("production_model")[0].metadata
    assert meta["promoted"].value is True and "bootstrap rule" in meta["reasons"].value
    assert str(registry.alias_version(target, "production").version) == "1"

    second = _materialize(settings, [trained_model], {"trained_model": {"config": {**strict, "iterations": 160}}})
    assert second.asset_materializations_for_node("trained_model")[0].metadata["version"].value == "2"
    gate2 = _materialize(settings, [production_model], {})
    meta2 = gate2.asset_materializations_for_node("production_model")[0].metadata
    assert meta2["promoted"].value is False
    assert "calibration outside bounds (ECE bound 0.001)" in meta2["reasons"].value
    assert "bootstrap" not in meta2["reasons"].value
    assert str(registry.alias_version(target, "production").version) == "1"
