"""The API's front door, a pure-ASGI middleware run before any routing or parsing.

In this order, for every HTTP request: header size limits (431), a declared body size limit (413), the key and its
scope for routes that need one (401, 403; requests without a valid key are throttled per client address: 429),
the key's rate limit (429 with ``Retry-After``), then the body read up to the limit (413 beyond it) and handed on.
The caller (:class:`Principal`) is left in ``scope["state"]["principal"]`` for the routes and the ``/predict``
fast path. Nothing is parsed, and no body byte is read, before the key has been checked.
"""

from __future__ import annotations

from typing import Any

import orjson

from serving.auth import KeyStore, SharedRateLimiter

OPEN = "open"
# The scope each route needs; any path not listed is open (/health, the OpenAPI document, 404s).
ROUTE_SCOPES: dict[str, str] = {
    "/predictions": "read", "/predict": "read", "/teams": "read", "/models/production": "read", "/stats": "read",
    "/health/detailed": "read", "/health/database": "read", "/health/redis": "read",
    "/admin/reload": "admin", "/metrics": "metrics",
}
PREFIX_SCOPES = (("/predictions/", "read", "/predictions/{match_id}"),)
MAX_HEADER_BYTES = 16 * 1024
MAX_KEY_BYTES = 256
MAX_BODY_BYTES = 16 * 1024  # a /predict body is a few hundred bytes


def route_rule(path: str) -> tuple[str, str] | None:
    """``(scope needed, route template)`` of a keyed path, ``None`` for an open one. The template labels a refused
    request's metrics (bounded values, never the raw path): refusals never reach routing."""
    scope = ROUTE_SCOPES.get(path)
    if scope is not None:
        return scope, path
    return next(((needed, template) for prefix, needed, template in PREFIX_SCOPES if path.startswith(prefix)), None)


async def _answer(send: Any, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = orjson.dumps({"detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def _retry_after(wait: float) -> list[tuple[bytes, bytes]]:
    return [(b"retry-after", b"%d" % max(1, int(-(-wait // 1))))]


class Guard:
    def __init__(self, app: Any, keys: KeyStore, limiter: SharedRateLimiter, max_body: int = MAX_BODY_BYTES):
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.max_body = max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = length = None
        size = 0
        for name, value in scope["headers"]:
            size += len(name) + len(value)
            if name == b"x-api-key":
                key = value if key is None else key
            elif name == b"authorization" and value[:7].lower() == b"bearer " and key is None:
                key = value[7:].strip()  # Prometheus' scrape credentials (authorization: Bearer)
            elif name == b"content-length":
                length = value
        if size > MAX_HEADER_BYTES or (key is not None and len(key) > MAX_KEY_BYTES):
            await _answer(send, 431, "request headers too large")
            return
        if length is not None:
            if not length.isdigit():
                await _answer(send, 400, "invalid Content-Length")
                return
            if int(length) > self.max_body:
                await _answer(send, 413, f"request body over {self.max_body} bytes")
                return
        rule = route_rule(scope["path"])
        if rule is not None:
            needed, label = rule
            scope.setdefault("state", {})["route_label"] = label  # refusals never reach routing: labelled here
            who = self.keys.lookup(key.decode("latin-1") if key else None)
            if who is None:
                client = scope.get("client")
                allowed, wait = await self.limiter.allow_anonymous(client[0] if client else "unknown")
                if not allowed:
                    await _answer(send, 429, "too many requests without a valid key", _retry_after(wait))
                else:
                    await _answer(send, 401, "missing or invalid X-API-Key (or Authorization: Bearer)",
                                  [(b"www-authenticate", b"ApiKey")])
                return
            if needed not in who.scopes:
                await _answer(send, 403, f"this key lacks the {needed!r} scope")
                return
            allowed, wait = await self.limiter.allow(who)
            if not allowed:
                await _answer(send, 429, "rate limit exceeded", _retry_after(wait))
                return
            scope.setdefault("state", {})["principal"] = who
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") and length is None:
            await self.app(scope, receive, send)
            return
        chunks, total, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client gone
                await self.app(scope, _replay(b"".join(chunks), False, receive, message), send)
                return
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            if total > self.max_body:
                await _answer(send, 413, f"request body over {self.max_body} bytes")
                return
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), False, receive), send)


def _replay(body: bytes, more: bool, receive: Any, then: dict | None = None) -> Any:
    """A ``receive`` that hands on the body already read, then the client's own messages."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        if then is not None:
            return then
        return await receive()

    return replay
