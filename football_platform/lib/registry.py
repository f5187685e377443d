"""MLflow helpers: one training run, registered versions, aliases, and loading the production model.

Aliases only (``challenger``, ``production``): MLflow stages are deprecated since 2.9. The model is
logged with the native CatBoost flavour so consumers get ``predict_proba`` (the pyfunc wrapper of
CatBoost returns class labels). A model boosted from a baseline (``CatBoostModel(baseline=...)``) is
logged natively too, with the baseline recorded as a run param, a run tag and a version tag
(``baseline=market``): :func:`load_model_version`, the one loader every consumer uses, then wraps it
in :class:`~football_platform.lib.models.boosting.OffsetCatBoost`, whose ``predict_proba`` adds the
baseline that CatBoost's own ignores. Every function takes an :class:`MlflowTarget` (the loader also a
tracking URI), so nothing here reads the environment; MLflow's process-global tracking URI is set on each call.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from football_platform.contracts import CHALLENGER_ALIAS, EXPERIMENT_NAME, MODEL_NAME, PRODUCTION_ALIAS

CHALLENGER = CHALLENGER_ALIAS
PRODUCTION = PRODUCTION_ALIAS
MODEL_ARTIFACT_NAME = "model"
BASELINE_TAG = "baseline"  # run param, run tag and version tag: 'market', 'dc' or 'none'


@dataclass(frozen=True)
class MlflowTarget:
    """Where runs and models go. ``artifact_location`` is set on the experiment when it is created."""

    tracking_uri: str
    experiment_name: str = EXPERIMENT_NAME
    model_name: str = MODEL_NAME
    artifact_location: str | None = None


def local_target(state_dir: Path | str, tracking_uri: str | None = None) -> MlflowTarget:
    """The local profile: SQLite tracking under the state dir, artifacts in ``<state_dir>/mlartifacts``."""
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri or f"sqlite:///{state / 'mlflow.db'}"
    return MlflowTarget(tracking_uri=uri, artifact_location=(state / "mlartifacts").as_uri())


def _mlflow(target: MlflowTarget):
    """MLflow's fluent API (``start_run``, ``log_model``, ``register_model``, ``models:/`` loads) reads only the
    process-wide URIs: they are set when they differ from the target's, so a process talking to one tracking
    server sets them once. Everything else goes through :func:`client`, which carries its own URIs."""
    import mlflow

    if mlflow.get_tracking_uri() != target.tracking_uri:
        mlflow.set_tracking_uri(target.tracking_uri)
    if mlflow.get_registry_uri() != target.tracking_uri:
        mlflow.set_registry_uri(target.tracking_uri)
    return mlflow


def client(target: MlflowTarget):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=target.tracking_uri, registry_uri=target.tracking_uri)


def ensure_experiment(target: MlflowTarget) -> str:
    """Id of the experiment, created with the explicit artifact location when new."""
    c = client(target)
    found = c.get_experiment_by_name(target.experiment_name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            c.restore_experiment(found.experiment_id)
        return found.experiment_id
    return c.create_experiment(target.experiment_name, artifact_location=target.artifact_location)


def _clean_metric_name(name: str) -> str:
    # MLflow allows alphanumerics, '_', '-', '.', ' ', '/' in keys.
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in name)


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    model_uri: str
    experiment_id: str
    baseline: str | None = None


def _native_and_baseline(model: Any) -> tuple[Any, str | None]:
    """The native classifier to log and its baseline (an ``OffsetCatBoost`` carries one; a native model none)."""
    from football_platform.lib.models.boosting import OffsetCatBoost

    if isinstance(model, OffsetCatBoost):
        return model.model, model.baseline
    return model, None


def log_catboost_run(
    target: MlflowTarget,
    model: Any,
    input_example: pd.DataFrame,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    artifacts: Mapping[str, Path] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    run_name: str | None = None,
) -> LoggedRun:
    """One run: params, finite metrics, tags, files, CSV tables and the CatBoost model with signature.

    ``model`` is a native ``CatBoostClassifier`` or an ``OffsetCatBoost`` (``CatBoostModel.predictor_``):
    the native classifier is logged either way, and the baseline goes in as param and tag ``baseline``.
    """
    mlflow = _mlflow(target)
    from mlflow.models import infer_signature

    native, baseline = _native_and_baseline(model)
    experiment_id = ensure_experiment(target)
    example = input_example.head(5)
    signature = infer_signature(example, np.asarray(model.predict_proba(example)))
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        # MLflow caps param values at 6000 characters; longer values (feature lists) go in as artifacts.
        mlflow.log_params({**{k: str(v)[:6000] for k, v in params.items()}, BASELINE_TAG: baseline or "none"})
        finite = {_clean_metric_name(k): float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
        mlflow.log_metrics(finite)
        mlflow.set_tags({**{k: str(v)[:5000] for k, v in tags.items()}, BASELINE_TAG: baseline or "none"})
        for sub, path in (artifacts or {}).items():
            mlflow.log_artifact(str(path), artifact_path=sub or None)
        with tempfile.TemporaryDirectory() as tmp:
            for name, table in (tables or {}).items():
                path = Path(tmp) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                table.to_csv(path, index=False)
                mlflow.log_artifact(str(path), artifact_path=str(Path(name).parent) if "/" in name else None)
        # Explicit requirements (catboost==<installed>): inferring them re-imports the model in a subprocess.
        info = mlflow.catboost.log_model(native, name=MODEL_ARTIFACT_NAME, signature=signature, input_example=example,
                                         pip_requirements=mlflow.catboost.get_default_pip_requirements())
    return LoggedRun(run_id=run.info.run_id, model_uri=info.model_uri, experiment_id=experiment_id, baseline=baseline)


def register(target: MlflowTarget, logged: LoggedRun, alias: str | None = CHALLENGER,
             tags: Mapping[str, str] | None = None) -> str:
    """Register the run's model as a new version of ``target.model_name`` and point ``alias`` at it.

    The version is tagged ``baseline`` (``none`` without one), which tells :func:`load_model_version`
    how to wrap it.
    """
    mlflow = _mlflow(target)
    c = client(target)
    try:
        c.get_registered_model(target.model_name)
    except Exception:  # noqa: BLE001 - MLflow raises its generic exception for "not found"
        c.create_registered_model(target.model_name, description="Match outcome probabilities (H, D, A)")
    version_tags = {**dict(tags or {}), BASELINE_TAG: logged.baseline or "none"}
    version = mlflow.register_model(logged.model_uri, target.model_name, tags=version_tags).version
    if alias:
        c.set_registered_model_alias(target.model_name, alias, str(version))
    return str(version)


def alias_version(target: MlflowTarget, alias: str):
    """The ``ModelVersion`` an alias points to, or None when the model or alias does not exist."""
    c = client(target)
    try:
        return c.get_model_version_by_alias(target.model_name, alias)
    except Exception:  # noqa: BLE001 - not found is the normal "no production yet" case
        return None


def promote(target: MlflowTarget, version: str, alias: str = PRODUCTION, when: datetime | None = None) -> str:
    """Point ``alias`` at ``version`` and stamp the version with ``promoted_at`` (ISO, UTC); returns the stamp."""
    c = client(target)
    stamp = (when or datetime.now(UTC)).isoformat(timespec="seconds")
    c.set_registered_model_alias(target.model_name, alias, str(version))
    c.set_model_version_tag(target.model_name, str(version), f"{alias}_promoted_at", stamp)
    return stamp


def run_of_version(target: MlflowTarget, version) -> Any:
    """The MLflow run that produced a model version."""
    return client(target).get_run(version.run_id)


def load_table(target: MlflowTarget, run_id: str, artifact: str) -> pd.DataFrame:
    """A CSV artifact of a run as a frame."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=tmp,
                                                   tracking_uri=target.tracking_uri)
        return pd.read_csv(path)


def load_model_version(tracking: MlflowTarget | str, name: str, ref: str) -> tuple[Any, Any]:
    """``(model, ModelVersion)`` of version or alias ``ref`` of registered model ``name``: THE model loader.

    ``tracking`` is a target or a tracking URI (also used as registry URI). ``ref`` of digits is a
    version number, anything else an alias. The version is resolved first and its number loaded, so a
    moving alias cannot hand back another version than the one returned. The model is CatBoost's
    native classifier, wrapped in ``OffsetCatBoost`` when the version's ``baseline`` tag (or, for a
    version registered without it, its run's tag) names a baseline; either way it has
    ``feature_names_``, ``classes_`` and ``predict_proba(rows, thread_count=...)``.
    """
    from football_platform.lib.models.boosting import OffsetCatBoost

    uri = tracking.tracking_uri if isinstance(tracking, MlflowTarget) else str(tracking)
    if not uri:
        raise ValueError("load_model_version: no MLflow tracking URI given")
    mlflow = _mlflow(MlflowTarget(tracking_uri=uri, model_name=name))
    from mlflow import MlflowClient

    c = MlflowClient(tracking_uri=uri, registry_uri=uri)
    ref = str(ref)
    version = c.get_model_version(name, ref) if ref.isdigit() else c.get_model_version_by_alias(name, ref)
    native = mlflow.catboost.load_model(f"models:/{name}/{version.version}")
    baseline = (version.tags or {}).get(BASELINE_TAG)
    if baseline is None and version.run_id:
        baseline = c.get_run(version.run_id).data.tags.get(BASELINE_TAG)
    if baseline in (None, "", "none"):
        return native, version
    return OffsetCatBoost(native, baseline), version


def load_model(target: MlflowTarget, alias: str = PRODUCTION):
    """The model behind ``models:/<name>@<alias>`` (see :func:`load_model_version`; use ``predict_proba``)."""
    return load_model_version(target, target.model_name, alias)[0]


def model_features(target: MlflowTarget, alias: str = PRODUCTION) -> list[str]:
    """Ordered input columns of the aliased version (from the run's ``features`` tag)."""
    version = alias_version(target, alias)
    if version is None:
        raise LookupError(f"model {target.model_name!r} has no alias {alias!r} in {target.tracking_uri}")
    return json.loads(run_of_version(target, version).data.tags["features"])
