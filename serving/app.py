"""FastAPI app factory: batch predictions, on-demand ``/predict``, health and metrics.

``create_app(settings)`` wires the parts; every part can be handed in (tests pass their own). The request
path touches only memory, Feast's online store (one round trip for both teams) and the in-process CatBoost
model: the warehouse is read in the background through brief read-only connections, never held open.
``POST /predict`` is answered by ``serving.predict`` (a pure-ASGI fast path in front of the FastAPI route, which
keeps every error answer and the schema); docs/serving-performance.md has where its time goes.

The parts: request/response models in ``serving/schemas.py``, what wraps every route (logs, request ids, metrics,
error answers) in ``serving/middleware.py``, the routes in ``serving/routers.py``, the Guard (keys, scopes, rate
limits, body bounds) in ``serving/guard.py``.
"""

from __future__ import annotations

import gc
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.middleware import Middleware

from football_platform.lib.warehouse import Warehouse
from football_platform.settings import Settings
from serving.auth import KeyStore, SharedRateLimiter
from serving.features import OnlineFeatureReader, PredictionStore
from serving.guard import MAX_BODY_BYTES, Guard
from serving.metrics import Metrics
from serving.middleware import (
    RequestContextMiddleware,
    configure_logging,
    install_error_handlers,
    log,
    reject_unknown_query,
)
from serving.model import ModelHolder
from serving.predict import PATH as PREDICT_PATH
from serving.predict import PredictFastPath, Predictor
from serving.routers import (
    Services,
    add_admin_routes,
    add_health_routes,
    add_predictions_routes,
    add_reference_routes,
)
from serving.schemas import ANY_ROUTE, PredictRequest

__all__ = ["PredictRequest", "ServingOptions", "configure_logging", "create_app"]


@dataclass(frozen=True)
class ServingOptions:
    """Knobs of one API process (CLI flags of ``football-platform serve``)."""

    rate_limit_per_second: float = 50.0  # per key without its own rate; <= 0 disables
    rate_limit_burst: float = 100.0
    # Requests without a valid key, per client address (shared like the per-key limits); <= 0 disables.
    anonymous_rate_per_second: float = 5.0
    anonymous_burst: float = 20.0
    max_body_bytes: int = MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = ()
    model_poll_seconds: float = 30.0
    cache_refresh_seconds: float = 15.0
    key_refresh_seconds: float = 60.0
    access_log: bool = True
    # POST /predict: probabilities kept per (both teams' online rows as read, kickoff, league) for the serving
    # model; 0 disables. Keyed by the rows' content, so never older than the store (serving/predict.py).
    predict_cache_size: int = 16384


class _Refresher:
    """One background thread re-reading the warehouse-backed caches (API keys, team directory): requests never
    wait for the warehouse."""

    def __init__(self, jobs: list[tuple[float, Any]]):
        self.jobs = jobs
        self._stop = threading.Event()

    def start(self) -> None:
        due = [time.monotonic() + every for every, _ in self.jobs]

        def loop() -> None:
            while not self._stop.wait(max(0.05, min(due) - time.monotonic())):
                for i, (every, job) in enumerate(self.jobs):
                    if time.monotonic() >= due[i]:
                        try:
                            job()  # each job keeps its previous data and records its error itself
                        except Exception:
                            log.exception("background refresh failed")
                        due[i] = time.monotonic() + every

        threading.Thread(target=loop, name="cache-refresher", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def create_app(
    settings: Settings,
    options: ServingOptions | None = None,
    *,
    model_holder: ModelHolder | None = None,
    feature_reader: OnlineFeatureReader | None = None,
    prediction_store: PredictionStore | None = None,
    key_store: KeyStore | None = None,
    metrics: Metrics | None = None,
) -> FastAPI:
    options = options or ServingOptions()
    warehouse = Warehouse.for_settings(settings)
    metrics = metrics or Metrics()
    holder = model_holder or ModelHolder(settings.mlflow_tracking_uri, poll_seconds=options.model_poll_seconds)
    reader = feature_reader or OnlineFeatureReader.for_settings(settings, warehouse,
                                                                refresh_seconds=options.cache_refresh_seconds,
                                                                cache_teams=options.predict_cache_size > 0)
    store = prediction_store or PredictionStore(settings.redis_url, settings.redis_key_prefix, warehouse,
                                                refresh_seconds=options.cache_refresh_seconds)
    keys = key_store or KeyStore(settings.api_keys, warehouse, refresh_seconds=options.key_refresh_seconds,
                                 admin_keys=settings.admin_keys, metrics_keys=settings.metrics_keys)
    limiter = SharedRateLimiter.for_settings(
        settings, rate=options.rate_limit_per_second, burst=options.rate_limit_burst,
        anonymous_rate=options.anonymous_rate_per_second, anonymous_burst=options.anonymous_burst)
    refresher = _Refresher([(options.key_refresh_seconds, keys.refresh),
                            (options.cache_refresh_seconds, reader.refresh)])
    holder.on_swap.append(lambda loaded: metrics.set_model(loaded.name, loaded.version))
    predictor = Predictor(settings, holder, reader, metrics, cache_size=options.predict_cache_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Startup work runs in a thread: loading mlflow + the model takes seconds, the event loop stays free.
        await anyio.to_thread.run_sync(holder.start)
        await anyio.to_thread.run_sync(store.start)
        await anyio.to_thread.run_sync(reader.refresh)
        await anyio.to_thread.run_sync(keys.refresh)
        keys.background = reader.background = True
        refresher.start()
        # Everything loaded so far (mlflow, CatBoost, pandas...) lives as long as the process: keep it out of the
        # cyclic collector's scans, whose full passes over it would otherwise stall a request now and then.
        gc.collect()
        gc.freeze()
        if holder.current:
            metrics.set_model(holder.current.name, holder.current.version)
        log.info("api started", extra={"model_version": holder.current.version if holder.current else None,
                                       "model_error": holder.last_error, "predictions_source": store.source,
                                       "features_backend": reader.backend})
        yield
        refresher.stop()
        holder.stop()
        store.stop()

    app = FastAPI(
        title="football_platform prediction API",
        version="1.0",
        description="Match outcome probabilities (home/draw/away) from the `production` model. Send your key in "
                    "`X-API-Key` (scope `read`; `/admin/reload` needs `admin`; `/metrics` needs `metrics`, also "
                    "accepted as `Authorization: Bearer`, the way Prometheus sends it); only `/health` (liveness) "
                    "is open.",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        responses=ANY_ROUTE,
        redirect_slashes=False,  # a redirect would be built from the client's Host header
        dependencies=[Depends(reject_unknown_query)],
    )
    if options.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(options.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["X-API-Key", "Content-Type", "X-Request-ID"])
    app.add_middleware(RequestContextMiddleware, metrics=metrics, access_log=options.access_log)
    app.state.holder, app.state.reader, app.state.store, app.state.keys = holder, reader, store, keys
    services = Services(warehouse=warehouse, metrics=metrics, holder=holder, reader=reader, store=store, keys=keys,
                        predictor=predictor)
    install_error_handlers(app)
    for add_routes in (add_predictions_routes, add_reference_routes, add_admin_routes, add_health_routes):
        add_routes(app, services)

    # Innermost (inside CORS and the request middleware, which thus see every request): the Guard, then the
    # /predict fast path.
    route = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == PREDICT_PATH)
    app.user_middleware.append(Middleware(Guard, keys=keys, limiter=limiter, max_body=options.max_body_bytes))
    app.user_middleware.append(Middleware(PredictFastPath, predictor=predictor, route=route))
    return app
