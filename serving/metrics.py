"""Prometheus metrics of the API.

One process: an own registry per app (several apps can live in one test process). Several workers
(``serve --workers N``): prometheus_client's multiprocess mode. Each worker writes its samples to files under
``PROMETHEUS_MULTIPROC_DIR`` and ``GET /metrics``, whichever worker answers, renders the aggregate of all of them
(counters and histograms summed; gauges by the mode given below). :func:`enable_multiprocess` switches a process
to that mode; the runner calls it before forking.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Sub-millisecond buckets: the fast path answers in about 1 ms, the p99 target is 10-25 ms.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def enable_multiprocess(directory: str | Path, wipe: bool = True) -> Path:
    """Use multiprocess mode in this process and its forks, writing under ``directory``.

    ``wipe`` removes the sample files of an earlier run (they would be added to this run's counters). Metrics
    created before this call keep their in-process values: call it before building any app.
    """
    from prometheus_client import values

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    if wipe:
        for stale in path.glob("*.db"):
            stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    values.ValueClass = values.get_value_class()  # chosen once at import; re-chosen now the variable is set
    return path


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        from prometheus_client import values

        r = self.registry
        # What the metric values really are (chosen when prometheus_client was imported, or by
        # enable_multiprocess), not the variable alone: importing Feast sets PROMETHEUS_MULTIPROC_DIR for its own use.
        self.multiprocess = values.ValueClass is not values.MutexValue
        self._directory = multiprocess_dir() if self.multiprocess else None
        self.requests = Counter("football_api_requests_total", "HTTP requests", ["route", "method", "status"],
                                registry=r)
        self.duration = Histogram("football_api_request_duration_seconds", "Request latency", ["route"],
                                  buckets=BUCKETS, registry=r)
        # Gauges across workers: the max (model_info is 1 for every version some worker serves; a worker that
        # swaps sets its old version to 0) or the value last written by any worker.
        self.model_info = Gauge("football_api_model_info", "Model being served (value 1)", ["name", "version"],
                                registry=r, multiprocess_mode="max")
        self.predictions_served = Counter("football_api_predictions_served_total", "Predictions returned",
                                          ["route"], registry=r)
        self.feature_misses = Counter("football_api_feature_misses_total",
                                      "Online feature lookups that found no row for a team", registry=r)
        self.cache_requests = Counter("football_api_cache_requests_total", "Prediction cache lookups", ["result"],
                                      registry=r)
        self.model_rolling_rps = Gauge("football_model_rolling_rps", "Rolling RPS of settled predictions",
                                       ["model"], registry=r, multiprocess_mode="mostrecent")
        self.closing_rolling_rps = Gauge("football_closing_rolling_rps",
                                         "Rolling RPS of the closing line on the same matches", registry=r,
                                         multiprocess_mode="mostrecent")
        self.data_freshness = Gauge("football_data_freshness_seconds", "Age of the data behind an asset",
                                    ["asset"], registry=r, multiprocess_mode="mostrecent")
        self.model_age = Gauge("football_model_age_seconds", "Age of the served model version", registry=r,
                               multiprocess_mode="mostrecent")
        self._model: tuple[str, str] | None = None

    def set_model(self, name: str, version: str) -> None:
        if self._model is not None and self._model != (name, version):
            self.model_info.labels(name=self._model[0], version=self._model[1]).set(0)
            if not self.multiprocess:
                self.model_info.remove(*self._model)
        self._model = (name, version)
        self.model_info.labels(name=name, version=version).set(1)

    def render(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self._directory)
        return generate_latest(registry)
