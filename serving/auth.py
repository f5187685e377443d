"""API keys and per-key rate limits.

Keys come from two places: bootstrap keys in ``Settings.api_keys`` (``FOOTBALL_API_KEYS``; scopes read and
admin) and the warehouse table ``ops.api_keys`` (sha256 of the key, name, scopes ``read``/``admin``), which
is re-read at most every ``refresh_seconds`` through a brief read-only connection. Plain keys are never
stored, logged or echoed; a key is known by its name.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("serving.auth")

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
]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(warehouse: Any, name: str, scopes: tuple[str, ...] = ("read",),
                   rate_per_second: float | None = None) -> str:
    """Store a new key's hash in ``ops.api_keys``; returns the plain key (shown once, never stored)."""
    bad = set(scopes) - {"read", "admin"}
    if bad:
        raise ValueError(f"unknown scope(s) {sorted(bad)}: use read and/or admin")
    key = "fp_" + secrets.token_urlsafe(24)
    with warehouse.connect() as conn, conn.transaction():
        for ddl in API_KEYS_DDL:
            conn.execute(ddl)
        conn.execute(
            "INSERT INTO ops.api_keys (key_hash, name, scopes, rate_per_second, created_at) "
            "VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP)",
            [hash_key(key), name, ",".join(sorted(set(scopes))), rate_per_second],
        )
    return key


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]
    rate_per_second: float | None = None


class KeyStore:
    """Look-ups by key hash; the warehouse table is cached and refreshed in the background of requests."""

    def __init__(self, bootstrap_keys: tuple[str, ...] = (), warehouse: Any = None, refresh_seconds: float = 60.0):
        self._bootstrap = {
            hash_key(k): Principal(name=f"bootstrap-{i + 1}", scopes=frozenset({"read", "admin"}))
            for i, k in enumerate(bootstrap_keys)
        }
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
            frame = self._warehouse.query_df(
                "SELECT key_hash, name, scopes, rate_per_second FROM ops.api_keys WHERE revoked_at IS NULL",
                read_only=True,
            )
            table = {}
            for rec in frame.to_dict("records"):
                rate = rec.get("rate_per_second")
                table[str(rec["key_hash"])] = Principal(
                    name=str(rec["name"]),
                    scopes=frozenset(s.strip() for s in str(rec["scopes"]).split(",") if s.strip()),
                    rate_per_second=float(rate) if rate is not None and rate == rate else None,
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
                    return principal
        return None


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token bucket per key name: ``rate`` tokens per second, up to ``burst``. ``rate <= 0`` disables it."""

    rate: float = 50.0
    burst: float = 100.0
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, name: str, rate: float | None = None) -> tuple[bool, float]:
        """``(allowed, seconds until the next token)``."""
        rate = self.rate if rate is None else rate
        if rate <= 0:
            return True, 0.0
        burst = max(self.burst, rate)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = self._buckets[name] = _Bucket(tokens=burst, stamp=now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True, 0.0
            return False, (1.0 - bucket.tokens) / rate
