"""The API's routes, by concern: predictions, reference data, admin, health and metrics.

Each ``add_*_routes(app, services)`` adds its routes to the app (on the app itself, not through an ``APIRouter``:
the Guard, the ``/predict`` fast path and the request metrics read the matched route from the scope); the handlers
close over the process's :class:`Services` (the model holder, the online-feature reader, the prediction store, the
key store, metrics): the request path touches only those. ``serving/app.py`` assembles them.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from football_platform.contracts import FEATURE_SERVICE
from football_platform.lib.warehouse import Warehouse
from serving.auth import KeyStore, Principal
from serving.features import OnlineFeatureReader, PredictionStore, public_error
from serving.metrics import Metrics
from serving.model import ModelHolder
from serving.predict import Predictor
from serving.schemas import (
    ERRORS,
    UNAVAILABLE,
    Day,
    ErrorBody,
    League,
    Prediction,
    PredictionPage,
    PredictRequest,
    PredictResponse,
    TeamList,
)

# Module level: the routes' annotations are resolved against this module's names (postponed annotations).
BEARER = HTTPBearer(auto_error=False, description="the key as a bearer token (how Prometheus sends credentials)")
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


@dataclass
class Services:
    """What the routes of one API process read."""

    warehouse: Warehouse
    metrics: Metrics
    holder: ModelHolder
    reader: OnlineFeatureReader
    store: PredictionStore
    keys: KeyStore
    predictor: Predictor
    started_at: float = field(default_factory=time.time)
    pages: dict[tuple, Any] = field(default_factory=dict)  # rendered GET /predictions answers of the current batch


def _admitted(request: Request, scope: str) -> Principal:
    # The Guard has checked the key, its scope and its rate before any parsing (serving/guard.py); the
    # dependencies below declare the key in the OpenAPI document and refuse a request the Guard did not admit.
    who = request.scope.get("state", {}).get("principal")
    if who is None or scope not in who.scopes:
        raise HTTPException(401, "missing or invalid X-API-Key", headers={"WWW-Authenticate": "ApiKey"})
    return who


def principal(scope: str) -> Callable:
    async def dependency(request: Request, key: str | None = Depends(API_KEY_HEADER)) -> Principal:
        return _admitted(request, scope)

    return dependency


async def scraper(request: Request, key: str | None = Depends(API_KEY_HEADER),
                  token: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None) -> Principal:
    return _admitted(request, "metrics")


reader_dep, admin_dep, scraper_dep = Depends(principal("read")), Depends(principal("admin")), Depends(scraper)


def model_status(holder: ModelHolder) -> dict[str, Any]:
    loaded = holder.current
    return {"name": holder.name, "alias": holder.alias,
            "version": loaded.version if loaded else None,
            "run_id": loaded.run_id if loaded else None,
            "loaded_at": dt.datetime.fromtimestamp(loaded.loaded_at, dt.UTC).isoformat() if loaded else None,
            "last_check": dt.datetime.fromtimestamp(holder.last_check, dt.UTC).isoformat()
            if holder.last_check else None,
            "error": public_error(holder.last_error)}


def add_predictions_routes(app: FastAPI, services: Services) -> None:
    """``GET /predictions``, ``GET /predictions/{match_id}`` (the cached batch) and ``POST /predict``."""
    store, metrics, predictor, pages = services.store, services.metrics, services.predictor, services.pages
    def _page(key: tuple, render: Any) -> tuple[Response, int]:
        """A rendered answer of the current batch and its number of predictions; ``render()`` gives
        ``(body, count)``. The cache is dropped whenever the batch changes."""
        version = store.version
        if pages.get(("version",)) != version:
            pages.clear()
            pages[("version",)] = version
        hit = pages.get(key)
        if hit is None:
            body, count = render()
            hit = (json.dumps(body, separators=(",", ":")).encode(), count)
            if len(pages) < 4096:
                pages[key] = hit
        return Response(hit[0], media_type="application/json"), hit[1]

    @app.get("/predictions", response_model=PredictionPage, responses=ERRORS, tags=["predictions"],
             summary="Batch predictions of upcoming fixtures")
    async def list_predictions(
        league: Annotated[League | None, Query(examples=["E0"])] = None,
        team: str | None = Query(None, max_length=64, examples=["Arsenal"], description="home or away"),
        date_from: Annotated[Day | None, Query(examples=["2026-01-31"])] = None,
        date_to: Annotated[Day | None, Query(examples=["2026-02-28"])] = None,
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=1_000_000),
        _: Principal = reader_dep,
    ) -> Any:
        def render() -> tuple[dict[str, Any], int]:
            items = store.items
            if league or team or date_from or date_to:
                lo, hi = date_from.isoformat() if date_from else "", date_to.isoformat() if date_to else "9999"
                items = [i for i in items
                         if (not league or i["div"] == league)
                         and (not team or team in (i["home_team"], i["away_team"]))
                         and lo <= i["match_date"] <= hi]
            page = items[offset: offset + limit]
            return {"items": page, "total": len(items), "limit": limit, "offset": offset,
                    "generated_at": store.generated_at, "source": store.source}, len(page)

        response, count = _page(("list", league, team, date_from, date_to, limit, offset), render)
        metrics.cache_requests.labels("hit" if store.source == "redis" else store.source).inc()
        metrics.predictions_served.labels("/predictions").inc(count)
        return response

    @app.get("/predictions/{match_id}", response_model=Prediction, tags=["predictions"],
             responses={**ERRORS, 404: {"model": ErrorBody, "description": "no prediction for this match"}})
    async def get_prediction(match_id: str = Path(max_length=200, examples=["E0-2526-arsenal-man-united"]),
                             _: Principal = reader_dep) -> Any:
        item = store.by_id.get(match_id)
        if item is None:
            metrics.cache_requests.labels("miss").inc()
            raise HTTPException(404, f"no prediction for match {match_id!r}")
        metrics.cache_requests.labels("hit" if store.source == "redis" else store.source).inc()
        metrics.predictions_served.labels("/predictions/{match_id}").inc()
        return _page(("one", match_id), lambda: (item, 1))[0]

    @app.post("/predict", response_model=PredictResponse, tags=["predictions"],
              summary="Probabilities for any pairing, from the online features of feature service match_outcome_v1",
              responses={**ERRORS, 404: {"model": ErrorBody, "description": "unknown team (closest names given), or a "
                                                                       "league without online features"},
                         422: {"model": ErrorBody, "description": "invalid body (an excerpt of each bad value)"},
                         503: {"model": ErrorBody, "description": "no model loaded or online store down"}})
    async def predict(body: PredictRequest, _: Principal = reader_dep) -> Any:
        # Plainly valid requests never get here: PredictFastPath answers them with the same Predictor.
        return Response(await predictor.predict(body.home_team, body.away_team, body.league, body.kickoff),
                        media_type="application/json")



def add_reference_routes(app: FastAPI, services: Services) -> None:
    """``GET /teams`` and ``GET /models/production``."""
    reader, holder = services.reader, services.holder
    @app.get("/teams", response_model=TeamList, responses=ERRORS, tags=["reference"])
    def teams(league: Annotated[League | None, Query(examples=["E0"])] = None, _: Principal = reader_dep) -> Any:
        known = sorted(reader.teams().items())
        rows = [{"team": t, "league": d} for t, d in known if not league or d == league]
        return {"teams": rows, "count": len(rows)}

    @app.get("/models/production", responses=ERRORS, tags=["reference"])
    def production_model(_: Principal = reader_dep) -> Any:
        return model_status(holder)



def add_admin_routes(app: FastAPI, services: Services) -> None:
    """``POST /admin/reload`` (scope admin)."""
    holder, store, reader, keys = services.holder, services.store, services.reader, services.keys
    @app.post("/admin/reload", responses=ERRORS, tags=["admin"],
              summary="Check the registry now and swap in a new production version; reload caches")
    def admin_reload(_: Principal = admin_dep) -> Any:
        swapped = holder.check()
        store.refresh()
        reader.refresh()
        keys.refresh()
        return {"swapped": swapped, **model_status(holder), "predictions_source": store.source}



def add_health_routes(app: FastAPI, services: Services) -> None:
    """Liveness (open), the keyed health of every dependency, ``/metrics`` (scope metrics) and ``/stats``.

    Internals are reported as states and exception class names only: no URL, host, user, path, PID or secret."""
    warehouse, metrics, holder, reader, store, keys = services.warehouse, services.metrics, services.holder, services.reader, services.store, services.keys
    @app.get("/health", tags=["health"], summary="Liveness (open)")
    def health() -> Any:
        return {"status": "ok"}

    def _database() -> tuple[bool, str | None]:
        try:
            with warehouse.connect(read_only=warehouse.is_duckdb) as conn:
                conn.query_one("SELECT 1")
            return True, None
        except Exception as exc:
            return False, type(exc).__name__

    @app.get("/health/database", tags=["health"], responses={**ERRORS, **UNAVAILABLE})
    def health_database(_: Principal = reader_dep) -> Any:
        ok, error = _database()
        return JSONResponse({"status": "ok" if ok else "down", "kind": warehouse.kind, "error": error},
                            status_code=200 if ok else 503)

    def _redis() -> tuple[bool | None, str | None]:
        """Redis as this process uses it: Feast's online store (prod) and/or the prediction cache; ``None``:
        not configured."""
        client = reader.redis if reader.redis is not None else store.redis
        if client is None:
            return None, None
        try:
            client.ping()
            return True, None
        except Exception as exc:
            return False, type(exc).__name__

    @app.get("/health/redis", tags=["health"], responses={**ERRORS, **UNAVAILABLE})
    def health_redis(_: Principal = reader_dep) -> Any:
        ok, error = _redis()
        status = "not configured" if ok is None else "ok" if ok else "down"
        return JSONResponse({"status": status, "error": error}, status_code=503 if ok is False else 200)

    @app.get("/health/detailed", tags=["health"], responses={**ERRORS, **UNAVAILABLE},
             summary="Every dependency; 503 when a request path (/predict, /predictions) cannot be served")
    def health_detailed(_: Principal = reader_dep) -> Any:
        redis_ok, redis_error = _redis()
        online_ok, _detail = reader.ping()
        db_ok, db_error = _database()
        model = model_status(holder)
        serving = {"/predict": holder.current is not None and online_ok,
                   "/predictions": store.source in ("redis", "warehouse")
                   or (store.source == "none" and not store.last_error)}
        if not all(serving.values()):
            status = "unavailable"
        elif redis_ok is False or not db_ok or holder.last_error is not None:
            status = "degraded"
        else:
            status = "ok"
        return JSONResponse({
            "status": status, "serving": serving, "model": model,
            "registry": {"reachable": holder.last_error is None, "error": public_error(holder.last_error)},
            "redis": {"ok": redis_ok, "error": redis_error},
            "database": {"ok": db_ok, "kind": warehouse.kind, "error": db_error},
            "predictions": {"source": store.source, "count": len(store.items), "generated_at": store.generated_at,
                            "error": public_error(store.last_error)},
            "features": {"backend": reader.backend, "ok": online_ok, "feature_service": FEATURE_SERVICE,
                         "teams": len(reader.teams()), "error": public_error(reader.last_error)},
            "api_keys": {"error": public_error(keys.last_error)},
            "uptime_seconds": round(time.time() - services.started_at, 1)}, status_code=503 if status == "unavailable" else 200)

    @app.get("/metrics", tags=["health"], response_class=Response, responses=ERRORS,
             summary="Prometheus metrics (scope metrics; X-API-Key or Authorization: Bearer)")
    def prometheus_metrics(_: Principal = scraper_dep) -> Response:
        now = time.time()
        loaded = holder.current
        if loaded is not None and loaded.registered_at:
            metrics.model_age.set(now - loaded.registered_at)
        if store.generated_at:
            try:
                generated = pd.Timestamp(store.generated_at)
                generated = generated.tz_localize("UTC") if generated.tzinfo is None else generated
                metrics.data_freshness.labels("batch_predictions").set(now - generated.timestamp())
            except ValueError:
                pass
        for asset, materialized in store.materialized_at.items():
            metrics.data_freshness.labels(asset).set(now - materialized)
        perf = store.performance
        if perf:
            metrics.model_rolling_rps.labels(perf["model"]).set(perf["rps_model"])
            if perf.get("rps_closing") is not None:
                metrics.closing_rolling_rps.set(perf["rps_closing"])
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/stats", tags=["health"], responses=ERRORS)
    def stats(_: Principal = reader_dep) -> Any:
        by_league: dict[str, int] = {}
        for item in store.items:
            by_league[item["div"]] = by_league.get(item["div"], 0) + 1
        return {"predictions": len(store.items), "by_league": by_league, "generated_at": store.generated_at,
                "source": store.source, "teams": len(reader.teams()),
                "model_version": holder.current.version if holder.current else None,
                "rolling_performance": store.performance,
                "uptime_seconds": round(time.time() - services.started_at, 1)}

