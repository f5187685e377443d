"""Registry helpers on a real MLflow (SQLite in tmp_path), the reliability diagram and the gate's pure parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from football_platform.lib import registry
from football_platform.lib.evaluation import complete_seasons, evaluation_window, markdown
from football_platform.lib.features import MARKET_AWARE_FEATURES
from football_platform.lib.models import CatBoostModel, OffsetCatBoost
from football_platform.lib.plots import reliability_curve, reliability_diagram


def _tiny_model():
    from catboost import CatBoostClassifier

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"div": rng.choice(["E0", "E1"], 300), "a": rng.normal(size=300)})
    y = np.where(x["a"] > 0.5, 0, np.where(x["a"] < -0.5, 2, 1))
    model = CatBoostClassifier(iterations=20, depth=2, verbose=False, allow_writing_files=False,
                               cat_features=["div"], thread_count=1)
    return model.fit(x, y), x


def test_log_register_alias_load(tmp_path: Path) -> None:
    target = registry.local_target(tmp_path)
    model, x = _tiny_model()
    logged = registry.log_catboost_run(
        target, model, x, params={"depth": 2}, metrics={"rps": 0.2, "bad": float("nan")},
        tags={"features": '["div", "a"]'}, tables={"evaluation/t.csv": pd.DataFrame({"k": [1, 2]})},
    )
    assert registry.alias_version(target, registry.PRODUCTION) is None
    version = registry.register(target, logged)
    assert version == "1"
    assert str(registry.alias_version(target, registry.CHALLENGER).version) == "1"
    stamp = registry.promote(target, version)
    prod = registry.alias_version(target, registry.PRODUCTION)
    assert str(prod.version) == "1" and prod.tags["production_promoted_at"] == stamp
    run = registry.run_of_version(target, prod)
    assert run.data.metrics == {"rps": 0.2}  # NaN metrics are dropped, not logged
    assert registry.load_table(target, run.info.run_id, "evaluation/t.csv")["k"].tolist() == [1, 2]
    assert registry.model_features(target) == ["div", "a"]
    loaded = registry.load_model(target)
    assert prod.tags["baseline"] == "none" and not isinstance(loaded, OffsetCatBoost)
    probs = loaded.predict_proba(x.head(7))
    assert probs.shape == (7, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # artifacts live under the state dir, as the local profile promises
    assert any((tmp_path / "mlartifacts").rglob("MLmodel"))


def _market_frame(n: int = 600) -> pd.DataFrame:
    """Random market-aware feature rows with results; a fifth of the matches have no odds."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(n, len(MARKET_AWARE_FEATURES) - 1)), columns=MARKET_AWARE_FEATURES[1:])
    frame.insert(0, "div", rng.choice(["E0", "SP1"], n))
    frame["season"] = "2223"
    dc = rng.dirichlet([4, 2.5, 3], size=n)
    market = np.clip(dc + rng.normal(0, 0.03, (n, 3)), 0.05, None)
    market = market / market.sum(axis=1, keepdims=True)
    market[::5] = np.nan
    frame[["match_dc_p_home", "match_dc_p_draw", "match_dc_p_away"]] = dc
    frame[["match_market_p_home", "match_market_p_draw", "match_market_p_away"]] = market
    outcome = np.array([rng.choice(3, p=row) for row in dc])
    frame["fthg"], frame["ftag"] = (outcome == 0).astype(int), (outcome == 2).astype(int)
    return frame


def test_baseline_model_loads_back_with_its_baseline(tmp_path: Path) -> None:
    from serving.model import SingleThreadModel

    frame = _market_frame()
    model = CatBoostModel(feature_set="market_aware", baseline="market", iterations=20, depth=2,
                          thread_count=1, min_season=None, min_rows=50).fit(frame)
    expected = model.predict_proba(frame)
    target = registry.local_target(tmp_path)
    x = model._pool_frame(frame)
    logged = registry.log_catboost_run(target, model.predictor_, x, params={"depth": 2}, metrics={}, tags={})
    assert logged.baseline == "market"
    registry.register(target, logged)
    loaded, version = registry.load_model_version(target.tracking_uri, target.model_name, registry.CHALLENGER)
    assert str(version.version) == "1" and version.tags["baseline"] == "market"
    assert registry.run_of_version(target, version).data.params["baseline"] == "market"
    assert isinstance(loaded, OffsetCatBoost) and loaded.feature_names_ == MARKET_AWARE_FEATURES
    np.testing.assert_allclose(loaded.predict_proba(x), expected, rtol=0, atol=1e-12)
    # the API's way: one list row at a time through SingleThreadModel; batch: a list of rows
    served = SingleThreadModel(loaded)
    rows = x.to_numpy(dtype=object).tolist()
    np.testing.assert_allclose(served.predict_proba([rows[1]])[0], expected[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(registry.load_model(target, registry.CHALLENGER).predict_proba(rows), expected,
                               rtol=0, atol=1e-12)
    # the native model alone is not the same forecast
    assert np.abs(loaded.model.predict_proba(x) - expected).max() > 0.05


def test_reliability_curve_hand_worked(tmp_path: Path) -> None:
    p = np.array([0.05, 0.15, 0.15, 0.95])
    hit = np.array([False, True, False, True])
    mean_p, freq, counts = reliability_curve(p, hit, n_bins=10)
    np.testing.assert_allclose(mean_p, [0.05, 0.15, 0.95])
    np.testing.assert_allclose(freq, [0.0, 0.5, 1.0])
    assert counts.tolist() == [1, 2, 1]
    probs = np.tile([0.5, 0.3, 0.2], (30, 1))
    path = reliability_diagram({"m": probs, "empty": np.full((30, 3), np.nan)}, np.arange(30) % 3, tmp_path / "r.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _frame(counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [{"season": s, "div": d} for (s, d), n in counts.items() for _ in range(n)]
    return pd.DataFrame(rows)


def test_evaluation_window_skips_unfinished_season() -> None:
    done = _frame({("2122", "E0"): 380, ("2223", "E0"): 380, ("2324", "E0"): 380})
    assert complete_seasons(done) == ["2122", "2223", "2324"]
    assert evaluation_window(done, 2) == ["2223", "2324"]
    running = _frame({("2021", "E0"): 380, ("2122", "E0"): 380, ("2223", "E0"): 380, ("2324", "E0"): 200})
    assert evaluation_window(running, 2) == ["2122", "2223"]
    assert evaluation_window(_frame({("2223", "E0"): 380, ("2324", "E0"): 380}), 5) == ["2324"]
    with pytest.raises(ValueError, match="at least 2"):
        evaluation_window(_frame({("2324", "E0"): 380}), 1)


def test_markdown_table() -> None:
    text = markdown(pd.DataFrame({"model": ["a"], "rps": [0.123456], "n": [3]}))
    assert text.splitlines() == ["| model | rps | n |", "|---|---|---|", "| a | 0.1235 | 3 |"]
