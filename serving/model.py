"""The served model: ``models:/football-match-outcome@production``, swapped in atomically when the alias moves.

A background thread asks the registry every ``poll_seconds`` which version the alias points at; a new
version is loaded beside the old one and then published with one reference assignment, so a request in
flight finishes on the model it started with and none is dropped. If the registry is unreachable the
current model keeps serving and ``last_error`` says why (``/health/detailed``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from football_platform.contracts import MODEL_NAME
from football_platform.lib.predictions import outcome_order

log = logging.getLogger("serving.model")


class SingleThreadModel:
    """The loaded model (native CatBoost, or OffsetCatBoost for a baseline model) pinned to one thread per worker
    (two workers share two cores)."""

    def __init__(self, model: Any):
        self.model = model
        self.feature_names_ = list(model.feature_names_)
        self.classes_ = list(model.classes_)

    def predict_proba(self, rows: Any) -> Any:
        return self.model.predict_proba(rows, thread_count=1)


@dataclass(frozen=True)
class LoadedModel:
    model: SingleThreadModel
    name: str
    version: str
    order: list[int]
    run_id: str | None
    registered_at: float | None  # epoch seconds the version was created in the registry
    loaded_at: float


class ModelHolder:
    def __init__(self, tracking_uri: str, name: str = MODEL_NAME, alias: str = "production",
                 poll_seconds: float = 30.0):
        self.tracking_uri = tracking_uri
        self.name = name
        self.alias = alias
        self.poll_seconds = poll_seconds
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self.last_check: float | None = None
        self.on_swap: list[Any] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _client(self):
        from mlflow import MlflowClient  # heavy: only at start and in the poll thread

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def check(self) -> bool:
        """Load the alias's version if it is new; returns True when a swap happened. Never raises."""
        with self._lock:
            self.last_check = time.time()
            try:
                mv = self._client().get_model_version_by_alias(self.name, self.alias)
            except Exception as exc:
                self.last_error = f"registry unreachable or alias missing: {type(exc).__name__}: {str(exc)[:200]}"
                log.warning("model check failed: %s", self.last_error)
                return False
            if self.current is not None and self.current.version == str(mv.version):
                self.last_error = None
                return False
            try:
                from football_platform.lib.registry import load_model_version  # wraps a baseline model

                native, _ = load_model_version(self.tracking_uri, self.name, str(mv.version))
                wrapped = SingleThreadModel(native)
                loaded = LoadedModel(
                    model=wrapped, name=self.name, version=str(mv.version), order=outcome_order(wrapped.classes_),
                    run_id=mv.run_id, registered_at=(mv.creation_timestamp or 0) / 1000 or None,
                    loaded_at=time.time(),
                )
            except Exception as exc:
                self.last_error = f"loading version {mv.version} failed: {type(exc).__name__}: {str(exc)[:200]}"
                log.error("model load failed: %s", self.last_error)
                return False
            previous = self.current.version if self.current else None
            self.current = loaded  # the swap: one reference assignment
            self.last_error = None
            log.info("model swapped", extra={"model": self.name, "from_version": previous, "to_version": loaded.version})
            for callback in self.on_swap:
                callback(loaded)
            return True

    def start(self) -> None:
        self.check()

        def loop() -> None:
            while not self._stop.wait(self.poll_seconds):
                self.check()

        self._thread = threading.Thread(target=loop, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
