"""Judging a candidate model on the latest evaluation window (pure: frames in, frames out; no MLflow, no Dagster).

The candidate and its comparison models are scored by the walk-forward backtest on the last complete seasons of
the training set (never used for tuning): overall, against the closing line on the same matches, per league,
paired against the non-market baselines, and for calibration. ``defs/ml/training.py`` logs the result to MLflow
and applies the promotion gate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from football_platform.contracts import (
    CLOSING_PROB_COLUMNS,
    CLOSING_PROB_TO_OUTPUT,
    MATCH_KEY,
    OUTPUT_CLOSING_PROB_COLUMNS,
    PROB_COLUMNS,
)
from football_platform.lib.backtest import BacktestConfig, walk_forward
from football_platform.lib.metrics import evaluate, outcome_index, paired_bootstrap_diff, rps_scores
from football_platform.lib.models import make_model
from football_platform.lib.seasons import season_start_year

# Baselines a candidate must beat; the market is a benchmark, not a bar a fundamentals model must clear.
NON_MARKET_BASELINES = ("base_rates", "elo_ol", "pi_ol", "dixon_coles")
COMPARISON_MODELS = (*NON_MARKET_BASELINES, "market_pre", "catboost_fundamentals", "catboost_market_aware")


@dataclass(frozen=True)
class TrainingOptions:
    """What to train and how to judge it. ``catboost_params`` override the candidate's defaults."""

    candidate: str = "catboost_market_aware"
    catboost_params: Mapping[str, Any] = field(default_factory=dict)
    comparison_models: tuple[str, ...] = COMPARISON_MODELS
    eval_seasons: int = 2
    ece_bound: float = 0.05
    thread_count: int = 2
    n_boot: int = 1000

    def model_kwargs(self) -> dict[str, dict[str, Any]]:
        kwargs: dict[str, dict[str, Any]] = {}
        for name in {self.candidate, *self.comparison_models}:
            if name.startswith("catboost"):
                kwargs[name] = {"thread_count": self.thread_count}
        kwargs[self.candidate] = {**kwargs.get(self.candidate, {}), **dict(self.catboost_params)}
        return kwargs


def complete_seasons(frame: pd.DataFrame) -> list[str]:
    """Seasons in time order, dropping the latest one when it looks unfinished.

    The latest season counts as unfinished when it has fewer than 90% of the matches the same leagues
    had the season before (a season in progress), so the evaluation window is always whole seasons.
    """
    seasons = sorted(frame["season"].astype(str).unique(), key=season_start_year)
    if len(seasons) < 2:
        return seasons
    last, prev = seasons[-1], seasons[-2]
    counts = frame.groupby(["season", "div"]).size()
    leagues = counts.loc[last].index
    prev_counts = counts.loc[prev].reindex(leagues).fillna(0)
    if counts.loc[last].sum() < 0.9 * prev_counts.sum():
        return seasons[:-1]
    return seasons


def evaluation_window(frame: pd.DataFrame, n: int) -> list[str]:
    """The last ``n`` complete seasons, leaving at least one earlier season to train on."""
    seasons = complete_seasons(frame)
    if len(seasons) < 2:
        raise ValueError(f"the training set has {len(seasons)} complete season(s): need at least 2 for a walk-forward")
    return seasons[-min(n, len(seasons) - 1):]


@dataclass
class Evaluation:
    """Walk-forward result on the evaluation window."""

    seasons: list[str]
    predictions: pd.DataFrame  # long form, one row per (match, model), closing probs where present
    overall: pd.DataFrame  # per model on every window match (identical matches for all models)
    versus_closing: pd.DataFrame  # per model (+ 'closing') on the window matches with closing odds
    per_league: pd.DataFrame  # per league: candidate vs closing on identical matches

    def candidate_rows(self, candidate: str) -> pd.DataFrame:
        return self.predictions[self.predictions["model"] == candidate].reset_index(drop=True)

    def row(self, model: str) -> dict[str, float]:
        return self.overall.set_index("model").loc[model].to_dict()


def _scores(preds: pd.DataFrame, prob_cols: Sequence[str]) -> dict[str, float]:
    y = outcome_index(preds["fthg"].to_numpy(), preds["ftag"].to_numpy())
    return evaluate(preds[list(prob_cols)].to_numpy(dtype=float), y)


def evaluate_models(training_set: pd.DataFrame, options: TrainingOptions, seasons: Sequence[str]) -> Evaluation:
    """Walk-forward of the candidate and the comparison models over ``seasons`` of the training set."""
    models = tuple(dict.fromkeys([*options.comparison_models, options.candidate]))
    config = BacktestConfig(
        models=models, model_kwargs=options.model_kwargs(), ensembles={}, calibrated=(), warmup_seasons=0,
        thread_count=options.thread_count,
    )
    features = training_set.drop(columns=["result", "fthg", "ftag", *CLOSING_PROB_COLUMNS], errors="ignore")
    preds = walk_forward(training_set, list(seasons), config, features=features)
    # The training set carries the closing line as probabilities already: use them for the comparison.
    close = training_set[[*MATCH_KEY, *CLOSING_PROB_COLUMNS]].drop_duplicates(MATCH_KEY)
    preds = preds.drop(columns=OUTPUT_CLOSING_PROB_COLUMNS).merge(close, on=MATCH_KEY, how="left")
    preds = preds.rename(columns=CLOSING_PROB_TO_OUTPUT)

    overall = pd.DataFrame([{"model": m, **_scores(g, PROB_COLUMNS)} for m, g in preds.groupby("model")])
    with_close = preds[preds[OUTPUT_CLOSING_PROB_COLUMNS].notna().all(axis=1)]
    rows = []
    if not with_close.empty:
        first = with_close[with_close["model"] == options.candidate]
        rows.append({"model": "closing", **_scores(first, OUTPUT_CLOSING_PROB_COLUMNS)})
        rows += [{"model": m, **_scores(g, PROB_COLUMNS)} for m, g in with_close.groupby("model")]
    versus_closing = pd.DataFrame(rows)
    league_rows = []
    cand = preds[preds["model"] == options.candidate]
    for div, g in cand.groupby("div"):
        row: dict[str, Any] = {"div": div, **{k: v for k, v in _scores(g, PROB_COLUMNS).items()}}
        gc = g[g[OUTPUT_CLOSING_PROB_COLUMNS].notna().all(axis=1)]
        row["n_closing"] = float(len(gc))
        if len(gc):
            y = outcome_index(gc["fthg"].to_numpy(), gc["ftag"].to_numpy())
            row["rps_same_matches"] = float(rps_scores(gc[PROB_COLUMNS].to_numpy(float), y).mean())
            row["rps_closing"] = float(rps_scores(gc[OUTPUT_CLOSING_PROB_COLUMNS].to_numpy(float), y).mean())
        league_rows.append(row)
    return Evaluation(list(seasons), preds, overall, versus_closing, pd.DataFrame(league_rows))


def baseline_comparison(evaluation: Evaluation, candidate: str, n_boot: int = 1000) -> pd.DataFrame:
    """Candidate RPS minus each non-market baseline's, paired on the identical window matches."""
    preds = evaluation.predictions.sort_values([*MATCH_KEY, "model"])
    cand = preds[preds["model"] == candidate].set_index(MATCH_KEY)
    y = outcome_index(cand["fthg"].to_numpy(), cand["ftag"].to_numpy())
    a = rps_scores(cand[PROB_COLUMNS].to_numpy(float), y)
    rows = []
    for name in NON_MARKET_BASELINES:
        other = preds[preds["model"] == name].set_index(MATCH_KEY).loc[cand.index]
        b = rps_scores(other[PROB_COLUMNS].to_numpy(float), y)
        diff = paired_bootstrap_diff(a, b, n_boot=n_boot)
        rows.append({"baseline": name, "n": diff.n, "rps_candidate": float(a.mean()), "rps_baseline": float(b.mean()),
                     "delta": diff.mean, "delta_lo": diff.low, "delta_hi": diff.high, "beaten": bool(diff.mean < 0)})
    return pd.DataFrame(rows)


def calibration_table(evaluation: Evaluation, candidate: str, bound: float) -> pd.DataFrame:
    """Per-outcome ECE of the candidate (and of the closing line, the practical floor) against ``bound``."""
    row = evaluation.row(candidate)
    closing = evaluation.versus_closing.set_index("model") if not evaluation.versus_closing.empty else None
    out = []
    for k in ("H", "D", "A"):
        ref = float(closing.loc["closing", f"ece_{k}"]) if closing is not None else float("nan")
        out.append({"outcome": k, "ece": float(row[f"ece_{k}"]), "ece_closing": ref, "bound": bound,
                    "within": bool(row[f"ece_{k}"] < bound)})
    return pd.DataFrame(out)


def data_hash(frame: pd.DataFrame) -> str:
    """Content hash of the training set (order-independent): ties a run to the exact data."""
    ordered = frame.sort_values(MATCH_KEY, kind="mergesort").reset_index(drop=True)
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(ordered.columns).encode()).hexdigest()[:16]


def fit_candidate(training_set: pd.DataFrame, options: TrainingOptions):
    """The candidate refitted on every row of the training set."""
    if not options.candidate.startswith("catboost"):
        raise ValueError(f"candidate {options.candidate!r}: only CatBoost models are registered (native flavour)")
    kwargs = options.model_kwargs()[options.candidate]
    return make_model(options.candidate, **kwargs).fit(training_set)


def markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A small frame as a markdown table (no tabulate dependency)."""
    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
