"""FastAPI app factory: batch predictions, on-demand ``/predict``, health and metrics.

``create_app(settings)`` wires the parts; every part can be handed in (tests pass their own). The request
path touches only memory, Feast's online store (one round trip for both teams) and the in-process CatBoost
model: the warehouse is read in the background through brief read-only connections, never held open.
``POST /predict`` is answered by ``serving.predict`` (a pure-ASGI fast path in front of the FastAPI route, which
keeps every error answer and the schema); docs/serving-performance.md has where its time goes.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import sys
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from starlette.middleware import Middleware

from football_platform.lib.feature_store import FEATURE_SERVICE
from football_platform.lib.warehouse import Warehouse
from football_platform.settings import DEFAULT_LEAGUES, Settings
from serving.auth import KeyStore, Principal, SharedRateLimiter
from serving.features import FeaturesUnavailable, OnlineFeatureReader, PredictionStore, public_error
from serving.guard import MAX_BODY_BYTES, Guard
from serving.metrics import Metrics
from serving.model import ModelHolder
from serving.predict import DATE_MAX, DATE_MIN, DATE_PATTERN, PredictFastPath, Predictor, iso_date
from serving.predict import PATH as PREDICT_PATH

log = logging.getLogger("serving.api")


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


# ---------------------------------------------------------------- logging


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields (request_id, route, ...) are merged in."""

    _skip = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(), "level": record.levelname,
               "logger": record.name, "message": record.getMessage()}
        out.update({k: v for k, v in record.__dict__.items() if k not in self._skip})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("serving", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level)
        lg.propagate = False


# ---------------------------------------------------------------- schemas


League = Literal[DEFAULT_LEAGUES]  # the divisions the platform knows (a known one may still lack online features)


def _date(value: Any) -> Any:
    if isinstance(value, dt.date):  # built in Python, not parsed from a request
        return value
    day = iso_date(value)
    if day is None:
        raise ValueError(f"a YYYY-MM-DD date from {DATE_MIN} to {DATE_MAX}")
    return day


# Dates from requests: YYYY-MM-DD only (no numbers, no timestamps), bounded to a sane range.
Day = Annotated[dt.date, BeforeValidator(_date),
                WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN})]


NOT_BLANK = r"[^\s\x1c-\x1f]"


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"home_team": "Arsenal", "away_team": "Chelsea", "league": "E0", "kickoff": "2024-08-17"}]
    })
    # Not blank: at least one character that str.strip() keeps (\s plus the separators \x1c-\x1f).
    home_team: str = Field(min_length=1, max_length=64, pattern=NOT_BLANK,
                           description="the site's short name, e.g. 'Man United'")
    away_team: str = Field(min_length=1, max_length=64, pattern=NOT_BLANK,
                           description="another team than home_team (compared without surrounding spaces)")
    league: League | None = Field(default=None, description="division code, e.g. E0")
    kickoff: Day | None = Field(default=None, description="default: the as_of date, else the day after "
                                "the later of the two teams' last matches")

    @field_validator("home_team", "away_team")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _two_teams(self) -> PredictRequest:
        if self.home_team == self.away_team:
            raise ValueError("home_team and away_team must differ")
        return self


class ModelRef(BaseModel):
    name: str
    version: str


class PredictResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "home_team": "Arsenal", "away_team": "Chelsea", "league": "E0", "season": "2425", "kickoff": "2024-08-17",
        "p_home": 0.55, "p_draw": 0.24, "p_away": 0.21, "p_over25": 0.56, "p_under25": 0.44,
        "model": {"name": "football-match-outcome", "version": "3"},
        "features_timestamp": "2024-05-20T00:00:00+00:00"}]})
    home_team: str
    away_team: str
    league: str
    season: str
    kickoff: dt.date
    p_home: float
    p_draw: float
    p_away: float
    p_over25: float | None
    p_under25: float | None
    model: ModelRef
    features_timestamp: str | None


class Prediction(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "match_id": "E0-2526-arsenal-man-united", "div": "E0", "season": "2526", "match_date": "2026-01-31",
        "home_team": "Arsenal", "away_team": "Man United", "p_home": 0.58, "p_draw": 0.23, "p_away": 0.19,
        "p_over25": 0.55, "model_name": "football-match-outcome", "model_version": "3",
        "features_timestamp": "2026-01-30T06:00:00+00:00", "generated_at": "2026-01-30T06:05:00+00:00"}]})
    match_id: str
    div: str
    season: str
    match_date: str
    home_team: str
    away_team: str
    p_home: float
    p_draw: float
    p_away: float
    p_over25: float | None = None
    model_name: str | None = None
    model_version: str | None = None


class PredictionPage(BaseModel):
    items: list[Prediction]
    total: int
    limit: int
    offset: int
    generated_at: str | None
    source: str


class Team(BaseModel):
    team: str
    league: str


class TeamList(BaseModel):
    teams: list[Team]
    count: int


class ErrorBody(BaseModel):
    detail: Any


# Answers of serving.guard.Guard, before any route: every route may give the first three, keyed routes the others.
ANY_ROUTE = {400: {"model": ErrorBody, "description": "malformed request (Content-Length, or a body not UTF-8)"},
             413: {"model": ErrorBody, "description": "request body too large"},
             431: {"model": ErrorBody, "description": "request headers (or X-API-Key) too large"}}
ERRORS = {401: {"model": ErrorBody, "description": "missing or unknown X-API-Key"},
          403: {"model": ErrorBody, "description": "the key lacks the scope this route needs"},
          429: {"model": ErrorBody, "description": "rate limit exceeded (per key, or per address without a valid "
                                                   "key); see Retry-After"}}
UNAVAILABLE = {503: {"model": ErrorBody, "description": "a store or the model this answer needs is unavailable"}}


def _excerpt(value: Any, limit: int = 40) -> str:
    """A short excerpt of client input for an error message (never the whole input, never a non-JSON value)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for error in exc.errors()[:10]:
        item = {"type": str(error.get("type", "")),
                "loc": [x if isinstance(x, int) else _excerpt(x) for x in error.get("loc", ())],
                "msg": _excerpt(str(error.get("msg", "")), 200)}
        if "input" in error:
            item["input"] = _excerpt(error["input"])
        out.append(item)
    return out


def _query_names(dependant: Any) -> set[str]:
    """The query parameters a route declares, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


# Module level: the routes' annotations are resolved against this module's names (postponed annotations).
BEARER = HTTPBearer(auto_error=False, description="the key as a bearer token (how Prometheus sends credentials)")
_KNOWN_QUERY: dict[int, tuple[Any, frozenset[str]]] = {}  # id(route) -> (route, its query parameters)


def _known_query(route: Any) -> frozenset[str]:
    """A route's query parameter names, worked out once per route (routes are not hashable: keyed by identity)."""
    hit = _KNOWN_QUERY.get(id(route))
    if hit is None or hit[0] is not route:
        hit = _KNOWN_QUERY[id(route)] = (route, frozenset(_query_names(route.dependant)))
    return hit[1]


async def reject_unknown_query(request: Request) -> None:
    """Unknown query parameters are a client error (422), not silently ignored: the OpenAPI document lists every
    parameter a route takes, and a misspelt filter (``?leage=E0``) must not answer as if no filter were given."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    known = _known_query(route) if route is not None else frozenset()
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        raise RequestValidationError([{"type": "extra_forbidden", "loc": ("query", name),
                                       "msg": "unknown query parameter", "input": request.query_params[name]}
                                      for name in unknown])


# ---------------------------------------------------------------- request metrics / ids (pure ASGI: cheap)


class RequestContextMiddleware:
    def __init__(self, app: Any, metrics: Metrics, access_log: bool):
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # labelled metrics, looked up once

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
                break
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            # The template (/predictions/{match_id}), never the raw path: bounded label values.
            route_label = (getattr(route, "path", None) or scope.get("state", {}).get("route_label")
                           or "unmatched")
            elapsed = time.perf_counter() - started
            labels = (route_label, scope["method"], status["code"])
            children = self._children.get(labels)
            if children is None:
                children = (self.metrics.requests.labels(route_label, scope["method"], str(status["code"])),
                            self.metrics.duration.labels(route_label))
                if len(self._children) < 1024:
                    self._children[labels] = children
            children[0].inc()
            children[1].observe(elapsed)
            if self.access_log:
                log.info("request", extra={"request_id": request_id, "method": scope["method"], "route": route_label,
                                           "status": status["code"], "duration_ms": round(elapsed * 1000, 3)})


# ---------------------------------------------------------------- the app


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
    started_at = time.time()
    pages: dict[tuple, Any] = {}  # rendered GET /predictions answers (body, count) of the current batch
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

    api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")

    def _admitted(request: Request, scope: str) -> Principal:
        # The Guard has checked the key, its scope and its rate before any parsing (serving/guard.py); the
        # dependencies below declare the key in the OpenAPI document and refuse a request the Guard did not admit.
        who = request.scope.get("state", {}).get("principal")
        if who is None or scope not in who.scopes:
            raise HTTPException(401, "missing or invalid X-API-Key", headers={"WWW-Authenticate": "ApiKey"})
        return who

    def principal(scope: str):
        async def dependency(request: Request, key: str | None = Depends(api_key_header)) -> Principal:
            return _admitted(request, scope)

        return dependency

    async def scraper(request: Request, key: str | None = Depends(api_key_header),
                      token: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None) -> Principal:
        return _admitted(request, "metrics")

    reader_dep, admin_dep, scraper_dep = Depends(principal("read")), Depends(principal("admin")), Depends(scraper)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the whole input (and fails on NaN): an excerpt of each bad value only.
        return JSONResponse({"detail": _validation_errors(exc)}, status_code=422)

    @app.exception_handler(FeaturesUnavailable)
    async def features_unavailable(request: Request, exc: FeaturesUnavailable) -> JSONResponse:
        return JSONResponse({"detail": public_error(str(exc))}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"request_id": request.scope.get("state", {}).get("request_id")})
        return JSONResponse({"detail": "internal error"}, status_code=500)

    # -------------------------------------------------------- predictions

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

    @app.get("/teams", response_model=TeamList, responses=ERRORS, tags=["reference"])
    def teams(league: Annotated[League | None, Query(examples=["E0"])] = None, _: Principal = reader_dep) -> Any:
        known = sorted(reader.teams().items())
        rows = [{"team": t, "league": d} for t, d in known if not league or d == league]
        return {"teams": rows, "count": len(rows)}

    @app.get("/models/production", responses=ERRORS, tags=["reference"])
    def production_model(_: Principal = reader_dep) -> Any:
        return _model_status(holder)

    @app.post("/admin/reload", responses=ERRORS, tags=["admin"],
              summary="Check the registry now and swap in a new production version; reload caches")
    def admin_reload(_: Principal = admin_dep) -> Any:
        swapped = holder.check()
        store.refresh()
        reader.refresh()
        keys.refresh()
        return {"swapped": swapped, **_model_status(holder), "predictions_source": store.source}

    # -------------------------------------------------------- health (liveness open, the rest keyed), metrics, stats
    # Internals are reported as states and exception class names only: no URL, host, user, path, PID or secret.

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
        model = _model_status(holder)
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
            "uptime_seconds": round(time.time() - started_at, 1)}, status_code=503 if status == "unavailable" else 200)

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
                "uptime_seconds": round(time.time() - started_at, 1)}

    # Innermost (inside CORS and the request middleware, which thus see every request): the Guard, then the
    # /predict fast path.
    route = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == PREDICT_PATH)
    app.user_middleware.append(Middleware(Guard, keys=keys, limiter=limiter, max_body=options.max_body_bytes))
    app.user_middleware.append(Middleware(PredictFastPath, predictor=predictor, route=route))
    return app


def _model_status(holder: ModelHolder) -> dict[str, Any]:
    loaded = holder.current
    return {"name": holder.name, "alias": holder.alias,
            "version": loaded.version if loaded else None,
            "run_id": loaded.run_id if loaded else None,
            "loaded_at": dt.datetime.fromtimestamp(loaded.loaded_at, dt.UTC).isoformat() if loaded else None,
            "last_check": dt.datetime.fromtimestamp(holder.last_check, dt.UTC).isoformat()
            if holder.last_check else None,
            "error": public_error(holder.last_error)}
