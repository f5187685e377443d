"""Registry helpers on a real MLflow (SQLite in tmp_path), the reliability diagram and the gate's pure parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from football_platform.defs.ml.training import complete_seasons, evaluation_window, markdown
from football_platform.lib import registry
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
    probs = loaded.predict_proba(x.head(7))
    assert probs.shape == (7, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # artifacts live under the state dir, as the local profile promises
    assert any((tmp_path / "mlartifacts").rglob("MLmodel"))


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
