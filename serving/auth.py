"""API keys, their scopes, and rate limits shared by every worker and replica.

Keys come from two places: bootstrap keys from the environment (``FOOTBALL_API_KEYS``: scope ``read``;
``FOOTBALL_ADMIN_KEYS``: scopes ``read``, ``admin`` and ``metrics``; ``FOOTBALL_METRICS_KEYS``: scope ``metrics``
only, for Prometheus) and the warehouse table ``ops.api_keys`` (sha256 of the key,
name, scopes, rate, burst, expiry), re-read at most every ``refresh_seconds`` through a brief read-only connection
and managed with ``football-platform keys create|list|revoke``. Plain keys are never stored, logged or echoed; a key
is known by its name.

Rate limits are token buckets kept outside the process so that all workers and replicas share them: in Redis (one
``EVALSHA`` round trip per request) when the API has a ``REDIS_URL``, else in a SQLite file under the state
directory. A key's bucket uses its own rate and burst; requests without a valid key are counted per client address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("serving.auth")

SCOPES = ("read", "admin", "metrics")
# A scope that brings others with it: an admin may do what a reader and a scraper may.
IMPLIED_SCOPES = {"admin": ("read", "metrics")}
API_KEYS_DDL = [
    "CREATE SCHEMA IF NOT EXISTS ops",
    """CREATE TABLE IF NOT EXISTS ops.api_keys (
    "key_hash" VARCHAR(64) NOT NULL PRIMARY KEY,
    "name" VARCHAR NOT NULL,
    "scopes" VARCHAR NOT NULL,
    "rate_per_second" DOUBLE PRECISION,
    "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
    "revoked_at" TIMESTAMP WITH TIME ZONE
)""",
    # Columns added after the first release: tables made before them gain them here.
    'ALTER TABLE ops.api_keys ADD COLUMN IF NOT EXISTS "burst" DOUBLE PRECISION',
    'ALTER TABLE ops.api_keys ADD COLUMN IF NOT EXISTS "expires_at" TIMESTAMP WITH TIME ZONE',
]


def grant(scopes: Any) -> frozenset[str]:
    """The scopes a key holds: those given and those they imply."""
    held = set(scopes)
    for scope in tuple(held):
        held.update(IMPLIED_SCOPES.get(scope, ()))
    return frozenset(held)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _ensure_table(conn: Any) -> None:
    for ddl in API_KEYS_DDL:
        conn.execute(ddl)


def create_api_key(warehouse: Any, name: str, scopes: tuple[str, ...] = ("read",),
                   rate_per_second: float | None = None, burst: float | None = None,
                   expires_at: dt.datetime | None = None) -> str:
    """Store a new key's hash in ``ops.api_keys``; returns the plain key (shown once, never stored).
    ``admin`` implies ``read`` and ``metrics``. An active key of the same name is an error (revoke it first)."""
    bad = set(scopes) - set(SCOPES)
    if bad or not scopes:
        raise ValueError(f"unknown scope(s) {sorted(bad)}: use {', '.join(SCOPES)}")
    if not name or len(name) > 64:
        raise ValueError("a key name is 1 to 64 characters")
    for value, what in ((rate_per_second, "rate"), (burst, "burst")):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{what} must be a positive number")
    granted = grant(scopes)
    key = "fp_" + secrets.token_urlsafe(24)
    with warehouse.connect() as conn, conn.transaction():
        _ensure_table(conn)
        taken = conn.query_one("SELECT COUNT(*) FROM ops.api_keys WHERE name = ? AND revoked_at IS NULL", [name])
        if taken and taken[0]:
            raise ValueError(f"an active key named {name!r} exists: revoke it first")
        conn.execute(
            "INSERT INTO ops.api_keys (key_hash, name, scopes, rate_per_second, burst, expires_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP)",
            [hash_key(key), name, ",".join(s for s in SCOPES if s in granted), rate_per_second, burst, expires_at],
        )
    return key


def list_api_keys(warehouse: Any) -> list[dict[str, Any]]:
    """Every key row (active, expired, revoked) without its hash."""
    with warehouse.connect() as conn, conn.transaction():
        _ensure_table(conn)
    frame = warehouse.query_df(
        "SELECT name, scopes, rate_per_second, burst, created_at, expires_at, revoked_at FROM ops.api_keys "
        "ORDER BY created_at, name")
    return [{k: (None if v is None or v != v else v) for k, v in rec.items()} for rec in frame.to_dict("records")]


def revoke_api_key(warehouse: Any, name: str) -> int:
    """Revoke the active key(s) of this name; returns how many were revoked."""
    with warehouse.connect() as conn, conn.transaction():
        _ensure_table(conn)
        found = conn.query_one("SELECT COUNT(*) FROM ops.api_keys WHERE name = ? AND revoked_at IS NULL", [name])
        conn.execute("UPDATE ops.api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE name = ? AND revoked_at IS NULL",
                     [name])
    return int(found[0]) if found else 0


def _number(value: Any) -> float | None:
    return float(value) if value is not None and value == value else None


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]
    rate_per_second: float | None = None
    burst: float | None = None
    expires_at: float | None = None  # epoch seconds


class KeyStore:
    """Look-ups by key hash; the warehouse table is cached and refreshed in the background of requests."""

    def __init__(self, bootstrap_keys: tuple[str, ...] = (), warehouse: Any = None, refresh_seconds: float = 60.0,
                 admin_keys: tuple[str, ...] = (), metrics_keys: tuple[str, ...] = ()):
        self._bootstrap: dict[str, Principal] = {}
        for kind, scope, keys in (("", "read", bootstrap_keys), ("admin-", "admin", admin_keys),
                                  ("metrics-", "metrics", metrics_keys)):
            self._bootstrap.update({hash_key(k): Principal(name=f"bootstrap-{kind}{i + 1}", scopes=grant([scope]))
                                    for i, k in enumerate(keys)})
        self._warehouse = warehouse
        self._refresh_seconds = refresh_seconds
        self._table: dict[str, Principal] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self.background = False  # True once a background thread refreshes: look-ups then never read the warehouse
        self.last_error: str | None = None

    def refresh(self) -> None:
        """Re-read ``ops.api_keys`` (absent table = no keys). Errors keep the previous keys."""
        self._loaded_at = time.monotonic()
        if self._warehouse is None:
            return
        try:
            if not self._warehouse.table_exists("ops", "api_keys", read_only=True):
                self._table = {}
                return
            frame = self._warehouse.query_df("SELECT * FROM ops.api_keys WHERE revoked_at IS NULL", read_only=True)
            table = {}
            for rec in frame.to_dict("records"):
                expires = rec.get("expires_at")
                table[str(rec["key_hash"])] = Principal(
                    name=str(rec["name"]),
                    scopes=grant(s.strip() for s in str(rec["scopes"]).split(",") if s.strip()),
                    rate_per_second=_number(rec.get("rate_per_second")),
                    burst=_number(rec.get("burst")),
                    expires_at=None if expires is None or expires != expires else _epoch(expires),
                )
            self._table = table
            self.last_error = None
        except Exception as exc:  # a locked/missing warehouse must not lock clients out of bootstrap keys
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("api key table not readable: %s", self.last_error)

    def lookup(self, key: str | None) -> Principal | None:
        if not key:
            return None
        if (not self.background and time.monotonic() - self._loaded_at > self._refresh_seconds
                and self._lock.acquire(blocking=False)):
            try:
                self.refresh()
            finally:
                self._lock.release()
        digest = hash_key(key)
        for table in (self._bootstrap, self._table):
            for known, principal in table.items():
                if hmac.compare_digest(known, digest):
                    if principal.expires_at is not None and principal.expires_at <= time.time():
                        return None
                    return principal
        return None


def _epoch(value: Any) -> float:
    import pandas as pd

    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).timestamp()


# ---------------------------------------------------------------- rate limits


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """In-process token bucket per name: the fallback when the shared store cannot be reached."""

    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, name: str, rate: float, burst: float) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                if len(self._buckets) > 65536:
                    self._buckets.clear()
                bucket = self._buckets[name] = _Bucket(tokens=burst, stamp=now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True, 0.0
            return False, (1.0 - bucket.tokens) / rate


# KEYS[1]: the bucket; ARGV: rate, burst. Redis' own clock, so every replica agrees on the time.
_TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 't', 's')
local tokens = tonumber(b[1])
local stamp = tonumber(b[2])
if tokens == nil or stamp == nil then tokens = burst; stamp = now end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 's', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate) * 1000) + 1000)
return {ok, tostring(wait)}
"""


class RedisBuckets:
    """Token buckets in Redis: one ``EVALSHA`` per request through an asyncio client of this event loop."""

    def __init__(self, url: str, prefix: str, timeout: float = 0.25):
        self.url, self.prefix, self.timeout = url, prefix, timeout
        self._client: Any = None
        self._script: Any = None

    async def take(self, name: str, rate: float, burst: float) -> tuple[bool, float]:
        if self._script is None:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.url, socket_timeout=self.timeout,
                                                   socket_connect_timeout=self.timeout)
            self._script = self._client.register_script(_TOKEN_BUCKET_LUA)
        ok, wait = await self._script(keys=[f"{self.prefix}:ratelimit:{name}"], args=[rate, burst])
        return bool(int(ok)), float(wait)


class SqliteBuckets:
    """Token buckets in one SQLite file shared by the processes of a host (the local profile without Redis)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=2.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens REAL, stamp REAL)")
            self._conn = conn
        return self._conn

    async def take(self, name: str, rate: float, burst: float) -> tuple[bool, float]:
        with self._lock:
            conn = self._connection()
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT tokens, stamp FROM buckets WHERE name = ?", (name,)).fetchone()
                tokens = burst if row is None else min(burst, row[0] + max(0.0, now - row[1]) * rate)
                ok = tokens >= 1.0
                tokens = tokens - 1.0 if ok else tokens
                conn.execute("INSERT OR REPLACE INTO buckets (name, tokens, stamp) VALUES (?, ?, ?)",
                             (name, tokens, now))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return ok, 0.0 if ok else (1.0 - tokens) / rate


class SharedRateLimiter:
    """Per-key limits (the key's own rate and burst, else the defaults) and per-address limits for requests
    without a valid key, kept in ``buckets`` (Redis or SQLite). When that store fails the process falls back to
    its own buckets (still limited, per worker) for half a second at a time, and logs it."""

    def __init__(self, buckets: Any, rate: float = 50.0, burst: float = 100.0, anonymous_rate: float = 5.0,
                 anonymous_burst: float = 20.0):
        self.buckets = buckets
        self.rate, self.burst = rate, burst
        self.anonymous_rate, self.anonymous_burst = anonymous_rate, anonymous_burst
        self.local = RateLimiter()
        self._warned = 0.0
        self._shared_after = 0.0  # after a failure the store is left alone briefly: no timeout paid per request

    @classmethod
    def for_settings(cls, settings: Any, **limits: float) -> SharedRateLimiter:
        if settings.redis_url:
            buckets: Any = RedisBuckets(settings.redis_url, settings.redis_key_prefix)
        else:
            buckets = SqliteBuckets(Path(settings.state_dir) / "ratelimit.sqlite")
        return cls(buckets, **limits)

    async def allow(self, who: Principal) -> tuple[bool, float]:
        rate = self.rate if who.rate_per_second is None else who.rate_per_second
        burst = who.burst if who.burst is not None else (self.burst if who.rate_per_second is None else max(1.0, rate))
        return await self._take("key:" + who.name, rate, burst)

    async def allow_anonymous(self, address: str) -> tuple[bool, float]:
        return await self._take("addr:" + address, self.anonymous_rate, self.anonymous_burst)

    async def _take(self, name: str, rate: float, burst: float) -> tuple[bool, float]:
        if rate <= 0:
            return True, 0.0
        burst = max(1.0, burst)
        if time.monotonic() < self._shared_after:
            return self.local.take(name, rate, burst)
        try:
            return await self.buckets.take(name, rate, burst)
        except Exception as exc:
            self._shared_after = time.monotonic() + 0.5
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("shared rate limit store unavailable, limiting per process: %s", type(exc).__name__)
            return self.local.take(name, rate, burst)
