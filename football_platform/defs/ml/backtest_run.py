"""The ``backtest`` command's logic: one named model (or ensemble) walk-forward on warehouse matches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from football_platform.contracts import OUTPUT_CLOSING_PROB_COLUMNS, PROB_COLUMNS
from football_platform.lib.backtest import (
    DEFAULT_ENSEMBLES,
    PRIMARY_MODEL,
    BacktestConfig,
    walk_forward,
)
from football_platform.lib.metrics import outcome_index, rps_scores
from football_platform.lib.models import MODEL_NAMES

CSV_COLUMNS = ["div", "season", "date", "home_team", "away_team", "model", *PROB_COLUMNS, *OUTPUT_CLOSING_PROB_COLUMNS,
               "fthg", "ftag"]


def known_models() -> list[str]:
    return [*MODEL_NAMES, *DEFAULT_ENSEMBLES, *(f"{m}_cal" for m in MODEL_NAMES if m.startswith("catboost"))]


def config_for(model: str, thread_count: int = 2) -> BacktestConfig:
    """The smallest backtest configuration that produces ``model`` (no unneeded model is fitted)."""
    if model in DEFAULT_ENSEMBLES:
        _, members = DEFAULT_ENSEMBLES[model]
        return BacktestConfig(models=members, ensembles={model: DEFAULT_ENSEMBLES[model]}, calibrated=(),
                              warmup_seasons=3, thread_count=thread_count)
    if model.endswith("_cal") and model[:-4] in MODEL_NAMES:
        return BacktestConfig(models=(model[:-4],), ensembles={}, calibrated=(model[:-4],), warmup_seasons=3,
                              thread_count=thread_count)
    if model in MODEL_NAMES:
        return BacktestConfig(models=(model,), ensembles={}, calibrated=(), warmup_seasons=0,
                              thread_count=thread_count)
    raise ValueError(f"unknown model {model!r}; choose from {', '.join(known_models())}")


def run_backtest(
    matches: pd.DataFrame, test_seasons: Sequence[str], model: str = PRIMARY_MODEL, thread_count: int = 2,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Out-of-sample predictions of ``model`` for every match of ``test_seasons``: the CSV layout, ISO dates."""
    preds = walk_forward(matches, list(test_seasons), config_for(model, thread_count), progress=progress)
    out = preds[preds["model"] == model].copy()
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    return out.sort_values(["date", "div", "home_team", "away_team"], kind="mergesort")[CSV_COLUMNS].reset_index(
        drop=True
    )


def summary(preds: pd.DataFrame) -> str:
    """One line: matches, model RPS, and model vs closing RPS on the matches with closing odds."""
    y = outcome_index(preds["fthg"].to_numpy(), preds["ftag"].to_numpy())
    p = preds[PROB_COLUMNS].to_numpy(float)
    model = preds["model"].iloc[0] if len(preds) else "?"
    parts = [f"model={model}", f"matches={len(preds)}", f"rps={rps_scores(p, y).mean():.4f}"]
    has_close = preds[OUTPUT_CLOSING_PROB_COLUMNS].notna().all(axis=1).to_numpy()
    if has_close.any():
        c = preds.loc[has_close, OUTPUT_CLOSING_PROB_COLUMNS].to_numpy(float)
        parts += [f"with_closing={int(has_close.sum())}", f"rps_same_matches={rps_scores(p[has_close], y[has_close]).mean():.4f}",
                  f"rps_closing={rps_scores(c, y[has_close]).mean():.4f}"]
    else:
        parts.append("with_closing=0")
    return " ".join(parts)


def write_csv(preds: pd.DataFrame, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = preds.copy()
    for col in [*PROB_COLUMNS, *OUTPUT_CLOSING_PROB_COLUMNS]:
        frame[col] = np.round(frame[col].astype(float), 6)
    frame.to_csv(path, index=False)
    return path
