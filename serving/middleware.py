"""What wraps every route: JSON logs, request ids and metrics (a pure-ASGI middleware: cheap), the refusal of
unknown query parameters, and error answers that never echo whole inputs.

The Guard (keys, scopes, rate limits, body bounds) and the ``/predict`` fast path are ASGI middleware of their own:
``serving/guard.py`` and ``serving/predict.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.features import FeaturesUnavailable, public_error
from serving.metrics import Metrics

log = logging.getLogger("serving.api")


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


def _known_query(route: Any) -> frozenset[str]:
    """A route's query parameter names, worked out on its first request and kept on the route."""
    known = getattr(route, "known_query_names", None)
    if known is None:
        known = route.known_query_names = frozenset(_query_names(route.dependant))
    return known


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


def install_error_handlers(app: FastAPI) -> None:
    """422 with an excerpt of each bad value, 503 when the online features are unavailable, 500 without detail."""

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
