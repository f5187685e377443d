"""Training and the promotion decision (plain functions; the assets only wire them).

The candidate is judged by :mod:`football_platform.lib.evaluation` (walk-forward on the latest evaluation window),
then refitted on every row and logged to MLflow with its evaluation; the gate promotes it to ``production``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from football_platform.contracts import (
    FEATURE_SERVICE,
    MATCH_KEY,
    OUTPUT_CLOSING_PROB_COLUMNS,
    PROB_COLUMNS,
)
from football_platform.lib import registry
from football_platform.lib.evaluation import (
    Evaluation,
    TrainingOptions,
    baseline_comparison,
    calibration_table,
    data_hash,
    evaluate_models,
    evaluation_window,
    fit_candidate,
)
from football_platform.lib.metrics import outcome_index, rps_scores
from football_platform.lib.models import FEATURE_SETS
from football_platform.lib.plots import reliability_diagram
from football_platform.lib.seasons import season_start_year
from football_platform.settings import PROJECT_ROOT

PREDICTIONS_ARTIFACT = "evaluation/candidate_predictions.csv"


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass
class TrainingOutcome:
    run_id: str
    version: str
    evaluation: Evaluation
    baselines: pd.DataFrame
    calibration: pd.DataFrame
    importance: pd.DataFrame
    plot_path: Path
    metrics: dict[str, float]


def train_and_log(
    training_set: pd.DataFrame, options: TrainingOptions, target: registry.MlflowTarget, plot_dir: Path
) -> TrainingOutcome:
    """Evaluate, refit, log one MLflow run and register a version with alias ``challenger``."""
    seasons = evaluation_window(training_set, options.eval_seasons)
    evaluation = evaluate_models(training_set, options, seasons)
    baselines = baseline_comparison(evaluation, options.candidate, options.n_boot)
    calibration = calibration_table(evaluation, options.candidate, options.ece_bound)
    model = fit_candidate(training_set, options)
    features = FEATURE_SETS[model.feature_set]
    importance = pd.DataFrame(
        {"feature": features, "importance": model.model_.get_feature_importance()}
    ).sort_values("importance", ascending=False)

    cand = evaluation.candidate_rows(options.candidate)
    y = outcome_index(cand["fthg"].to_numpy(), cand["ftag"].to_numpy())
    curves = {options.candidate: cand[PROB_COLUMNS].to_numpy(float), "closing": cand[OUTPUT_CLOSING_PROB_COLUMNS].to_numpy(float)}
    plot_path = reliability_diagram(
        curves, y, Path(plot_dir) / "reliability.png", title=f"{options.candidate}, walk-forward {seasons[0]}-{seasons[-1]}"
    )

    metrics: dict[str, float] = {}
    for key, value in evaluation.row(options.candidate).items():
        metrics[key] = float(value)
    for _, r in evaluation.overall.iterrows():
        metrics[f"{r['model']}_rps"] = float(r["rps"])
    if not evaluation.versus_closing.empty:
        vc = evaluation.versus_closing.set_index("model")
        for name in ("rps", "log_loss", "brier", "ece_H", "ece_D", "ece_A", "n"):
            metrics[f"closing_{name}"] = float(vc.loc["closing", name])
            metrics[f"same_matches_{name}"] = float(vc.loc[options.candidate, name])
    for _, r in evaluation.per_league.iterrows():
        for name in ("rps", "log_loss", "brier", "rps_closing"):
            if name in r and pd.notna(r[name]):
                metrics[f"{name}_{r['div']}"] = float(r[name])
    beats = bool(baselines["beaten"].all())
    calibrated = bool(calibration["within"].all())

    params = {
        "candidate": options.candidate,
        "eval_seasons": ",".join(seasons),
        "train_rows": len(training_set),
        "train_seasons": f"{training_set['season'].iloc[0]}..{training_set['season'].iloc[-1]}",
        "leagues": ",".join(sorted(training_set["div"].astype(str).unique())),
        "ece_bound": options.ece_bound,
        "comparison_models": ",".join(options.comparison_models),
        "catboost_params": json.dumps(dict(options.catboost_params), sort_keys=True),
        **{f"model.{k}": v for k, v in model.model_.get_params().items() if k not in ("cat_features",)},
    }
    tags = {
        "data_hash": data_hash(training_set),
        "feature_service": FEATURE_SERVICE,
        "features": json.dumps(features),
        "beats_baselines": str(beats).lower(),
        "calibration_within_bounds": str(calibrated).lower(),
        "candidate": options.candidate,
    }
    commit = git_commit()
    if commit:
        tags["git_commit"] = commit
    window_preds = cand[[*MATCH_KEY, "date", *PROB_COLUMNS, *OUTPUT_CLOSING_PROB_COLUMNS, "fthg", "ftag"]]
    tables = {
        PREDICTIONS_ARTIFACT: window_preds,
        "evaluation/metrics_by_model.csv": evaluation.overall,
        "evaluation/metrics_vs_closing.csv": evaluation.versus_closing,
        "evaluation/metrics_by_league.csv": evaluation.per_league,
        "evaluation/baseline_comparison.csv": baselines,
        "evaluation/calibration.csv": calibration,
        "feature_importance.csv": importance,
    }
    example = model._pool_frame(training_set.tail(5))
    logged = registry.log_catboost_run(
        target, model.predictor_, example, params, metrics, tags, artifacts={"plots": plot_path}, tables=tables,
        run_name=f"{options.candidate}-{seasons[-1]}",
    )
    version = registry.register(target, logged, alias=registry.CHALLENGER,
                                tags={"data_hash": tags["data_hash"], "candidate": options.candidate})
    return TrainingOutcome(logged.run_id, version, evaluation, baselines, calibration, importance, plot_path, metrics)


@dataclass
class GateDecision:
    promoted: bool
    challenger_version: str
    production_version: str | None  # before the gate
    challenger_rps: float
    production_rps: float | None
    n_matches: int
    reasons: list[str]

    @property
    def delta(self) -> float | None:
        return None if self.production_rps is None else self.challenger_rps - self.production_rps

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([
            {"version": self.challenger_version, "alias": "challenger", "rps": self.challenger_rps},
            {"version": self.production_version or "-", "alias": "production",
             "rps": np.nan if self.production_rps is None else self.production_rps},
        ])


def _rps_of(preds: pd.DataFrame) -> np.ndarray:
    y = outcome_index(preds["fthg"].to_numpy(), preds["ftag"].to_numpy())
    return rps_scores(preds[PROB_COLUMNS].to_numpy(float), y)


def production_window_predictions(
    target: registry.MlflowTarget, production, challenger_preds: pd.DataFrame,
    load_training_set: Callable[[], pd.DataFrame] | None, thread_count: int = 2,
) -> pd.DataFrame:
    """Production's walk-forward predictions on the challenger's matches.

    Read from its own run's artifact when it covers them (same window); otherwise the production
    configuration (candidate + CatBoost params from its run) is re-run on the challenger's window.
    """
    run = registry.run_of_version(target, production)
    own = registry.load_table(target, run.info.run_id, PREDICTIONS_ARTIFACT)
    own["season"] = own["season"].astype(str).str.zfill(4)
    joined = challenger_preds[MATCH_KEY].merge(own, on=MATCH_KEY, how="left")
    if joined[PROB_COLUMNS].notna().all(axis=None):
        return joined
    if load_training_set is None:
        raise ValueError("production's evaluation window differs from the challenger's and no training set was given")
    training_set = load_training_set()
    options = TrainingOptions(
        candidate=run.data.params["candidate"], catboost_params=json.loads(run.data.params.get("catboost_params", "{}")),
        comparison_models=(), thread_count=thread_count,
    )
    seasons = sorted(challenger_preds["season"].astype(str).unique(), key=season_start_year)
    evaluation = evaluate_models(training_set, options, seasons)
    rows = evaluation.candidate_rows(options.candidate)
    return challenger_preds[MATCH_KEY].merge(rows, on=MATCH_KEY, how="left")


def promotion_gate(target: registry.MlflowTarget, load_training_set: Callable[[], pd.DataFrame] | None = None,
                   thread_count: int = 2) -> GateDecision:
    """Promote ``challenger`` to ``production`` when it beats production's RPS on identical matches, is
    calibrated within its bound and beats the non-market baselines.

    Bootstrap rule (no production version yet): the challenger is promoted when it beats the base rates and every
    market-free baseline (:data:`NON_MARKET_BASELINES`), whatever its calibration; if it does not, nothing is
    promoted and ``batch_predictions`` is skipped with the reason until a challenger qualifies."""
    challenger = registry.alias_version(target, registry.CHALLENGER)
    if challenger is None:
        raise LookupError(f"model {target.model_name!r} has no '{registry.CHALLENGER}' version: run trained_model")
    production = registry.alias_version(target, registry.PRODUCTION)
    run = registry.run_of_version(target, challenger)
    preds = registry.load_table(target, run.info.run_id, PREDICTIONS_ARTIFACT)
    preds["season"] = preds["season"].astype(str).str.zfill(4)
    a = _rps_of(preds)
    reasons: list[str] = []
    ok = True
    if run.data.tags.get("calibration_within_bounds") != "true":
        bound = run.data.params.get("ece_bound")
        if production is None:
            # Bootstrap rule: with nothing in production, a challenger that beats the base rates and every
            # market-free baseline serves (its calibration is reported, not required); afterwards every
            # promotion needs the calibration check too.
            reasons.append(f"calibration outside bounds (ECE bound {bound}): not required for the first production "
                           "model (bootstrap rule)")
        else:
            ok = False
            reasons.append(f"calibration outside bounds (ECE bound {bound})")
    if run.data.tags.get("beats_baselines") != "true":
        ok = False
        reasons.append("does not beat every non-market baseline")
    prod_rps = None
    if production is not None and str(production.version) == str(challenger.version):
        reasons.append("challenger is already production")
        return GateDecision(False, str(challenger.version), str(production.version), float(a.mean()),
                            float(a.mean()), len(a), reasons)
    if production is not None:
        theirs = production_window_predictions(target, production, preds, load_training_set, thread_count)
        b = _rps_of(theirs)
        prod_rps = float(b.mean())
        if not a.mean() < b.mean():
            ok = False
            reasons.append(f"RPS {a.mean():.4f} not below production v{production.version}'s {b.mean():.4f}")
    else:
        reasons.append("no production version yet")
    if ok:
        reasons.append("promoted")
        registry.promote(target, str(challenger.version))
    return GateDecision(ok, str(challenger.version), None if production is None else str(production.version),
                        float(a.mean()), prod_rps, len(a), reasons)


def temp_plot_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="fp-ml-"))
