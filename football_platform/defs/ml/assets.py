"""ML assets: the trained challenger (with its checks) and the promotion gate to alias ``production``."""


from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from football_platform.defs.common.metadata import image
from football_platform.lib import registry
from football_platform.lib.evaluation import COMPARISON_MODELS, TrainingOptions, markdown
from football_platform.lib.models import MODEL_NAMES
from football_platform.resources import MlflowResource, WarehouseResource

from .data import load_training_set
from .training import promotion_gate, temp_plot_dir, train_and_log

GROUP = "ml"
OWNERS = ["team:ml"]
KINDS = {"python", "catboost", "mlflow"}


class TrainedModelConfig(dg.Config):
    """Candidate and evaluation settings (defaults: the tuned CatBoost on the last two complete seasons)."""

    candidate: str = Field(default="catboost_market_aware", description="CatBoost model registered when trained")
    comparison_models: list[str] = Field(default=list(COMPARISON_MODELS), description="walk-forward comparisons")
    eval_seasons: int = Field(default=2, description="latest complete seasons scored walk-forward (never tuned on)")
    ece_bound: float = Field(
        default=0.05,
        description="per-outcome ECE bound; on ~760 matches sampling noise alone gives ECE of ~0.03",
    )
    thread_count: int = 2
    iterations: int | None = None
    depth: int | None = None
    learning_rate: float | None = None

    def options(self) -> TrainingOptions:
        if self.candidate not in MODEL_NAMES or not self.candidate.startswith("catboost"):
            raise ValueError(f"candidate must be a CatBoost model of {MODEL_NAMES}, got {self.candidate!r}")
        overrides = {k: v for k, v in (("iterations", self.iterations), ("depth", self.depth),
                                       ("learning_rate", self.learning_rate)) if v is not None}
        return TrainingOptions(candidate=self.candidate, catboost_params=overrides,
                               comparison_models=tuple(self.comparison_models), eval_seasons=self.eval_seasons,
                               ece_bound=self.ece_bound, thread_count=self.thread_count)


@dg.asset(
    key="trained_model",
    deps=["training_set"],
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    description=(
        "CatBoost match-outcome model fitted on analytics.training_set, evaluated walk-forward on the latest "
        "complete seasons against the baselines and the closing odds, logged to MLflow and registered with "
        "alias 'challenger'."
    ),
    check_specs=[
        dg.AssetCheckSpec("beats_baselines", asset="trained_model",
                          description="walk-forward RPS below every non-market baseline on identical matches"),
        dg.AssetCheckSpec("calibration_within_bounds", asset="trained_model",
                          description="per-outcome ECE (10 bins) of the walk-forward predictions below the bound"),
    ],
)
def trained_model(
    context: dg.AssetExecutionContext, config: TrainedModelConfig, warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    options = config.options()
    training_set = load_training_set(warehouse.get())
    outcome = train_and_log(training_set, options, mlflow.target(), temp_plot_dir())
    ev = outcome.evaluation
    context.log.info(f"{options.candidate} v{outcome.version}: walk-forward RPS {outcome.metrics['rps']:.4f} "
                     f"on {', '.join(ev.seasons)} ({int(outcome.metrics['n'])} matches)")
    beats = bool(outcome.baselines["beaten"].all())
    calibrated = bool(outcome.calibration["within"].all())
    metadata = {
        "version": outcome.version,
        "run_id": outcome.run_id,
        "model_uri": f"models:/{mlflow.registered_model_name}/{outcome.version}",
        "candidate": options.candidate,
        "eval_seasons": ", ".join(ev.seasons),
        "rps": dg.MetadataValue.float(outcome.metrics["rps"]),
        "closing_rps": dg.MetadataValue.float(outcome.metrics.get("closing_rps", float("nan"))),
        "n_eval_matches": int(outcome.metrics["n"]),
        "train_rows": len(training_set),
        "metrics_by_model": dg.MetadataValue.md(markdown(ev.overall)),
        "metrics_vs_closing": dg.MetadataValue.md(markdown(ev.versus_closing) if not ev.versus_closing.empty
                                                  else "no closing odds in the window"),
        "metrics_by_league": dg.MetadataValue.md(markdown(ev.per_league)),
        "feature_importance_top10": dg.MetadataValue.md(markdown(outcome.importance.head(10), digits=2)),
        "reliability_diagram": image(outcome.plot_path, "reliability diagram"),
    }
    checks = [
        dg.AssetCheckResult(
            check_name="beats_baselines", passed=beats,
            description="beats every non-market baseline" if beats else "worse than at least one baseline",
            metadata={"comparison": dg.MetadataValue.md(markdown(outcome.baselines)), "version": outcome.version},
        ),
        dg.AssetCheckResult(
            check_name="calibration_within_bounds", passed=calibrated,
            description=f"per-outcome ECE {'below' if calibrated else 'not all below'} {options.ece_bound}",
            metadata={"calibration": dg.MetadataValue.md(markdown(outcome.calibration)), "version": outcome.version},
        ),
    ]
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


class ProductionModelConfig(dg.Config):
    thread_count: int = 2


@dg.asset(
    key="production_model",
    deps=["trained_model"],
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    description=(
        "Promotion gate: alias 'production' moves to the challenger only when its walk-forward RPS beats the "
        "current production version's on identical matches (or none exists), it beats the non-market "
        "baselines and its calibration is within bounds."
    ),
    check_specs=[dg.AssetCheckSpec("promotion_gate", asset="production_model",
                                   description="the challenger was promoted (WARN when kept out)")],
)
def production_model(
    context: dg.AssetExecutionContext, config: ProductionModelConfig, warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    target = mlflow.target()
    decision = promotion_gate(target, lambda: load_training_set(warehouse.get()), config.thread_count)
    current = registry.alias_version(target, registry.PRODUCTION)
    promoted_at = (current.tags.get(f"{registry.PRODUCTION}_promoted_at") if current is not None else None) or ""
    context.log.info(f"promotion gate: {'; '.join(decision.reasons)}")
    gate_meta = {
        "challenger_version": decision.challenger_version,
        "previous_production_version": decision.production_version or "none",
        "challenger_rps": dg.MetadataValue.float(decision.challenger_rps),
        "production_rps": dg.MetadataValue.float(
            decision.production_rps if decision.production_rps is not None else float("nan")),
        "delta_rps": dg.MetadataValue.float(decision.delta if decision.delta is not None else float("nan")),
        "n_matches": decision.n_matches,
        "comparison": dg.MetadataValue.md(markdown(decision.table())),
        "reasons": "; ".join(decision.reasons),
    }
    return dg.MaterializeResult(
        metadata={
            "version": str(current.version) if current is not None else "none",
            "promoted": decision.promoted,
            "promoted_at": promoted_at,
            "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model_uri": f"models:/{mlflow.registered_model_name}@{registry.PRODUCTION}",
            **gate_meta,
        },
        check_results=[dg.AssetCheckResult(
            check_name="promotion_gate", passed=decision.promoted, severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(decision.reasons), metadata=gate_meta,
        )],
    )
