"""Online team features and cached batch predictions, as the API reads them.

**Online features** (``POST /predict``) come from Feast's online store, read directly in its own layout so the
API never imports Feast (seconds of import, a heavy request path):

* prod, Redis: one hash per team keyed by Feast's serialized entity key + project name, one field per feature
  (murmur3 of ``view:field``) holding a protobuf ``Value``, plus ``_ts:<view>``. Both teams' rows of the three
  team views (``team_ratings``, ``team_form``, ``team_schedule``) come back in ONE pipelined ``HMGET`` pair.
  The API reads them on its event loop (:meth:`OnlineFeatureReader.apair`) through :class:`AsyncHashReader`: the
  two commands are encoded once per team and written as one packet, hiredis parses the answers; no thread hop
  and no per-request client machinery. Every request reads Redis: nothing is cached across requests except
  decodings keyed by the bytes read (a new materialisation writes new bytes, so it is always seen).
* local, SQLite: Feast's file ``<state_dir>/feast/online_store.db``, one table per view (``<project>_<view>``);
  both teams' rows of the three views in ONE ``UNION ALL`` query. With ``cache_teams`` the parsed rows are kept
  per connection and dropped as soon as ``PRAGMA data_version`` moves, which SQLite guarantees on every commit
  by another connection: Feast's materialisation (the store's write) invalidates them.

The rows are those the ``feast_online_materialization`` asset wrote from ``analytics.team_state``;
``football_platform.lib.feature_rows.state_from_online`` turns one into the state ``features_from_states``
reads. The team directory (``/teams``, closest names on a miss, known leagues) is ``analytics.team_state``'s
``team, div``, re-read in the background through brief read-only connections.

**Batch predictions** (``GET /predictions``): the latest batch from Redis (``<prefix>:predictions``, written by
the ``batch_predictions`` asset, see ``football_platform.lib.publish``), else ``analytics.predictions`` in the warehouse.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from football_platform.lib import feature_rows as frows
from football_platform.lib import feature_store as fs
from football_platform.lib.publish import REDIS_TIMEOUT_SECONDS, records_for_api, redis_client, rolling_performance
from serving import online_layout as layout

log = logging.getLogger("serving.features")
ROLLING_MATCHES = 200  # settled matches behind the rolling RPS gauges
SQLITE_TIMEOUT_SECONDS = 0.25  # waiting for a materialisation's write lock
_N_FIELDS = len(layout.ONLINE_FIELDS)
_FIELD_NAMES = [f for _, f in layout.ONLINE_FIELDS]
_FIELD_INDEX = {vf: i for i, vf in enumerate(layout.ONLINE_FIELDS)}
_VIEWS = list(frows.VIEW_FIELDS)


class FeaturesUnavailable(RuntimeError):
    """The online store cannot be read right now (the API answers 503 with this reason: no path, host or error
    text of the store in it)."""


def public_error(text: str | None) -> str | None:
    """What of an internal error report a client may see: each ``; ``-separated part cut to its leading phrase and
    exception class name (``"redis: ConnectionError: Error 111 connecting to host:port"`` -> ``"redis:
    ConnectionError"``). Error texts carry hosts, paths and PIDs; the reports built here start with a fixed phrase,
    then the class name, then the exception's own text, which is dropped."""
    if not text:
        return text
    parts = []
    for part in text.split("; "):
        bits = part.split(": ")
        keep = bits[:2] if len(bits) > 1 and bits[1].isidentifier() else bits[:1]
        parts.append(": ".join(keep))
    return "; ".join(parts)


def _warehouse_table(warehouse: Any, table: str) -> bool:
    schema, name = table.split(".")
    return warehouse is not None and warehouse.table_exists(schema, name, read_only=True)


_SERIALS = itertools.count(1)


@dataclass(frozen=True, eq=False)
class OnlineTeam:
    """One team's online row: the state for ``features_from_states`` and the row's event timestamp.

    ``serial`` is unique per decoding: the same bytes read again give the same object (the reader's decode cache),
    new bytes (a new materialisation) a new serial, so caches keyed by serials can never serve an older row."""

    team: str
    state: dict[str, Any]
    timestamp: dt.datetime  # oldest of the three views' event timestamps (UTC)
    serial: int = field(default_factory=lambda: next(_SERIALS))


def parse_online_values(team: str, values: list[Any], timestamps: list[float | None]) -> OnlineTeam | None:
    """Decoded field values (ONLINE_FIELDS order) and per-view epoch timestamps -> OnlineTeam; None when any view
    has no row for the team (a feature miss)."""
    if any(t is None for t in timestamps):
        return None
    state = frows.state_from_online({"team": team, **dict(zip(_FIELD_NAMES, values, strict=True))})
    stamp = dt.datetime.fromtimestamp(min(timestamps), dt.UTC)
    return OnlineTeam(team, state, stamp)


def _sqlite_epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return pd.Timestamp(value).tz_localize("UTC").timestamp()


class _HashProtocol(asyncio.Protocol):
    """One Redis connection: commands pipelined, answers matched to waiters in order (Redis answers in order)."""

    def __init__(self) -> None:
        import hiredis

        self.parser = hiredis.Reader()
        self.waiters: deque[tuple[asyncio.Future, int, list]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        while self.waiters:
            reply = self.parser.gets()
            if reply is False:
                return
            future, expected, replies = self.waiters[0]
            replies.append(reply)
            if len(replies) == expected:
                self.waiters.popleft()
                if not future.done():  # a timed-out waiter's answers are consumed all the same
                    future.set_result(replies)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = exc or ConnectionResetError("connection closed")
        while self.waiters:
            future = self.waiters.popleft()[0]
            if not future.done():
                future.set_exception(ConnectionResetError(str(self.lost)))

    def request(self, payload: bytes, expected: int) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiters.append((future, expected, []))
        self.transport.write(payload)
        return future


def _command(*parts: bytes | str) -> bytes:
    """RESP encoding of one command."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class AsyncHashReader:
    """``HMGET``s of several hashes in one round trip on the running event loop, over one pipelined connection
    opened with the same settings (host, port, db, credentials, TLS) as the given redis-py client.

    Lighter than redis-py's asyncio client by an order of magnitude on this path (measured: ~190-290 us of CPU per
    two-command pipeline there). Any failure or a reply slower than ``timeout`` closes the connection (the next call
    opens a new one) and raises :class:`FeaturesUnavailable`."""

    def __init__(self, client: Any, fields: list[bytes], timeout: float = REDIS_TIMEOUT_SECONDS):
        self.client = client
        self.timeout = timeout
        self._fields_tail = b"".join(b"$%d\r\n%s\r\n" % (len(f), f) for f in fields)
        self._n_fields = len(fields)
        self._commands: OrderedDict[bytes, bytes] = OrderedDict()
        self._proto: _HashProtocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Future | None = None

    def hmget_command(self, key: bytes) -> bytes:
        command = self._commands.get(key)
        if command is None:
            command = b"*%d\r\n$5\r\nHMGET\r\n$%d\r\n%s\r\n" % (self._n_fields + 2, len(key), key) + self._fields_tail
            self._commands[key] = command
            if len(self._commands) > 8192:
                self._commands.popitem(last=False)
        return command

    async def _open(self) -> _HashProtocol:
        import ssl

        from redis.connection import SSLConnection, UnixDomainSocketConnection

        pool = self.client.connection_pool
        kw = pool.connection_kwargs
        loop = asyncio.get_running_loop()
        if issubclass(pool.connection_class, UnixDomainSocketConnection):
            connect = loop.create_unix_connection(_HashProtocol, kw["path"])
        else:
            context = None
            if issubclass(pool.connection_class, SSLConnection):
                context = ssl.create_default_context(cafile=kw.get("ssl_ca_certs"))
                if kw.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
            connect = loop.create_connection(_HashProtocol, kw.get("host", "localhost"), kw.get("port", 6379),
                                             ssl=context)
        _, proto = await asyncio.wait_for(connect, self.timeout)
        setup = []
        if kw.get("password"):
            setup.append(_command("AUTH", *([kw["username"]] if kw.get("username") else []), kw["password"]))
        if kw.get("db"):
            setup.append(_command("SELECT", str(kw["db"])))
        if setup:
            for reply in await asyncio.wait_for(proto.request(b"".join(setup), len(setup)), self.timeout):
                if isinstance(reply, Exception):
                    proto.transport.close()
                    raise ConnectionError(f"Redis refused the connection setup: {reply}")
        return proto

    async def _connection(self) -> _HashProtocol:
        loop = asyncio.get_running_loop()
        proto = self._proto
        if proto is not None and proto.lost is None and self._loop is loop:
            return proto
        if self._connecting is not None and self._loop is loop:
            return await asyncio.shield(self._connecting)
        self._loop = loop
        self._proto = None
        self._connecting = loop.create_task(self._open())
        try:
            self._proto = await asyncio.shield(self._connecting)
        finally:
            self._connecting = None
        return self._proto

    def close(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None and proto.transport is not None:
            # RuntimeError: its event loop is closed already (a finished test client): nothing left to close.
            with contextlib.suppress(RuntimeError):
                proto.transport.close()

    async def hmget_many(self, keys: list[bytes]) -> list[list[bytes | None]]:
        try:
            proto = await self._connection()
            future = proto.request(b"".join(self.hmget_command(k) for k in keys), len(keys))
            handle = asyncio.get_running_loop().call_later(self.timeout, _expire, future)
            try:
                replies = await future
            finally:
                handle.cancel()
        except (OSError, ConnectionError, TimeoutError) as exc:
            self.close()
            raise FeaturesUnavailable(f"online feature store (Redis) unreachable: {type(exc).__name__}") from exc
        for reply in replies:
            if isinstance(reply, Exception):
                raise FeaturesUnavailable(f"online feature store (Redis) error: {reply}")
        return replies


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError("no answer in time"))


class OnlineFeatureReader:
    """Both teams' rows of the team views from Feast's online store (Redis or SQLite) in one round trip."""

    def __init__(self, project: str, *, redis_url: str | None = None, sqlite_path: Path | str | None = None,
                 warehouse: Any = None, refresh_seconds: float = 30.0, cache_teams: bool = True):
        if (redis_url is None) == (sqlite_path is None):
            raise ValueError("give exactly one online store: redis_url (prod) or sqlite_path (local)")
        self.project = project
        self.redis = redis_client(redis_url) if redis_url else None
        self.sqlite_path = Path(sqlite_path) if sqlite_path else None
        self.warehouse = warehouse
        self.refresh_seconds = refresh_seconds
        self._teams: dict[str, str] = {}
        self._leagues: frozenset[str] = frozenset()
        self._parsed: OrderedDict[tuple, OnlineTeam] = OrderedDict()
        self._local = threading.local()
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._fields = layout.redis_fields()
        self.background = False  # True once a background thread refreshes the directory
        self._sqlite_sql = " UNION ALL ".join(
            f"SELECT {i} AS v, entity_key, feature_name, value, event_ts FROM "
            f"\"{layout.sqlite_table(project, view)}\" WHERE entity_key IN (?, ?)" for i, view in enumerate(_VIEWS))
        self.last_error: str | None = None
        self.cache_teams = cache_teams  # SQLite: parsed rows kept until the file's data_version moves
        self._async: AsyncHashReader | None = None

    @classmethod
    def for_settings(cls, settings: Any, warehouse: Any = None, refresh_seconds: float = 30.0,
                     cache_teams: bool = True) -> OnlineFeatureReader:
        """The profile's online store, from the same config Feast gets (``store_config_for_settings``)."""
        config = fs.store_config_for_settings(settings)
        online = config["online_store"]
        if online["type"] == "redis":
            return cls(config["project"], redis_url=settings.redis_url, warehouse=warehouse,
                       refresh_seconds=refresh_seconds, cache_teams=cache_teams)
        return cls(config["project"], sqlite_path=online["path"], warehouse=warehouse,
                   refresh_seconds=refresh_seconds, cache_teams=cache_teams)

    @property
    def backend(self) -> str:
        return "redis" if self.redis is not None else "sqlite"

    # ---------------------------------------------------------------- team directory

    def refresh(self) -> None:
        """Reload the team directory (``analytics.team_state``). Failures keep what was there."""
        self._loaded_at = time.monotonic()
        try:
            if _warehouse_table(self.warehouse, "analytics.team_state"):
                frame = self.warehouse.query_df("SELECT team, div FROM analytics.team_state", read_only=True)
                self._teams = {str(t): str(d) for t, d in zip(frame["team"], frame["div"], strict=True)}
                self._leagues = frozenset(self._teams.values())
            self.last_error = None
        except Exception as exc:
            self.last_error = f"team directory: {type(exc).__name__}: {exc}"
            log.warning("team directory refresh failed: %s", self.last_error)

    def _maybe_refresh(self) -> None:
        if (not self.background and time.monotonic() - self._loaded_at > self.refresh_seconds
                and self._lock.acquire(blocking=False)):
            try:
                self.refresh()
            finally:
                self._lock.release()

    def teams(self) -> dict[str, str]:
        self._maybe_refresh()
        return self._teams

    def leagues(self) -> frozenset[str]:
        self._maybe_refresh()
        return self._leagues

    # ---------------------------------------------------------------- online rows

    def _redis_raw(self, home: str, away: str) -> list[tuple]:
        import redis

        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hmget(layout.redis_entity_key(self.project, home), self._fields)
            pipe.hmget(layout.redis_entity_key(self.project, away), self._fields)
            return [tuple(r) for r in pipe.execute()]
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise FeaturesUnavailable(f"online feature store (Redis) unreachable: {type(exc).__name__}") from exc

    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if not self.sqlite_path.exists():
                raise FeaturesUnavailable("online feature store (SQLite) not found: "
                                          "materialise feast_online_materialization first")
            conn = sqlite3.connect(f"{self.sqlite_path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=SQLITE_TIMEOUT_SECONDS, check_same_thread=True)
            self._local.conn = conn
            self._local.teams = None  # data_version counts per connection: a new one starts a new cache
        return conn

    def _sqlite_raw(self, home: str, away: str) -> list[tuple]:
        keys = [layout.entity_key_bytes(home), layout.entity_key_bytes(away)]
        try:
            rows = self._sqlite().execute(self._sqlite_sql, keys * len(_VIEWS)).fetchall()
        except sqlite3.Error as exc:
            self._local.conn = None
            raise FeaturesUnavailable(f"online feature store (SQLite) unreadable: {type(exc).__name__}") from exc
        out = []
        for key in keys:
            slots: list[Any] = [None] * (_N_FIELDS + len(_VIEWS))
            for v, entity_key, feature, value, event_ts in rows:
                if entity_key != key:
                    continue
                i = _FIELD_INDEX.get((_VIEWS[v], feature))
                if i is not None:
                    slots[i] = value
                slots[_N_FIELDS + v] = event_ts
            out.append(tuple(slots))
        return out

    def _parse(self, team: str, raw: tuple) -> OnlineTeam | None:
        key = (team, raw)
        parsed = self._parsed.get(key)
        if parsed is None:  # decode a team's row once per materialised version, not once per request
            values = [layout.decode_value(b) for b in raw[:_N_FIELDS]]
            if self.redis is not None:  # protobuf Timestamps
                stamps = [layout.decode_timestamp(b) for b in raw[_N_FIELDS:]]
            else:  # SQLite: epoch seconds (Feast 0.67), or naive UTC text from older writers
                stamps = [_sqlite_epoch(ts) for ts in raw[_N_FIELDS:]]
            try:
                parsed = parse_online_values(team, values, stamps)
            except ValueError as exc:  # a row without its ratings: a broken materialisation, not an unknown team
                raise FeaturesUnavailable(f"online features of {team!r} are incomplete") from exc
            if parsed is None:
                return None
            self._parsed[key] = parsed
            if len(self._parsed) > 4096:
                self._parsed.popitem(last=False)
        return parsed

    def pair(self, home: str, away: str) -> tuple[OnlineTeam | None, OnlineTeam | None]:
        """Both teams' online rows in one round trip; ``None`` for a team the online store does not hold."""
        if self.redis is None:
            return self._sqlite_pair(home, away)
        raw = self._redis_raw(home, away)
        return self._parse(home, raw[0]), self._parse(away, raw[1])

    async def apair(self, home: str, away: str) -> tuple[OnlineTeam | None, OnlineTeam | None]:
        """:meth:`pair` for the event loop. Redis: one pipelined round trip without leaving the loop. SQLite (a local
        file): the query runs on the loop too, and with ``cache_teams`` only after a commit to the file."""
        if self.redis is None:
            return self._sqlite_pair(home, away)
        reader = self._async
        if reader is None or reader.client is not self.redis:  # first use, or the client was replaced
            if reader is not None:
                reader.close()
            reader = self._async = AsyncHashReader(self.redis, self._fields)
        raw = await reader.hmget_many([layout.redis_entity_key(self.project, home), layout.redis_entity_key(self.project, away)])
        return self._parse(home, tuple(raw[0])), self._parse(away, tuple(raw[1]))

    def _sqlite_pair(self, home: str, away: str) -> tuple[OnlineTeam | None, OnlineTeam | None]:
        if not self.cache_teams:
            raw = self._sqlite_raw(home, away)
            return self._parse(home, raw[0]), self._parse(away, raw[1])
        local = self._local
        try:
            version = self._sqlite().execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error as exc:
            self._local.conn = None
            raise FeaturesUnavailable(f"online feature store (SQLite) unreadable: {type(exc).__name__}") from exc
        teams = getattr(local, "teams", None)
        if teams is None or local.version != version:  # another connection committed: a materialisation
            teams = local.teams = {}
            local.version = version
        if home in teams and away in teams:
            return teams[home], teams[away]
        raw = self._sqlite_raw(home, away)
        pair = self._parse(home, raw[0]), self._parse(away, raw[1])
        if len(teams) > 4096:
            teams.clear()
        teams[home], teams[away] = pair
        return pair

    def ping(self) -> tuple[bool, str]:
        """Whether the online store answers (Redis PING, or a query on the SQLite file)."""
        try:
            if self.redis is not None:
                self.redis.ping()
                return True, f"redis, project {self.project}"
            self._sqlite().execute("SELECT 1").fetchone()
            return True, f"sqlite {self.sqlite_path}, project {self.project}"
        except Exception as exc:
            return False, f"{self.backend}: {type(exc).__name__}: {str(exc)[:200]}"


# Assets whose age the API exports as football_data_freshness_seconds (StaleData alert, business dashboard); the
# age of batch_predictions comes from the batch itself.
FRESHNESS_ASSETS = ("raw_matches",)


class PredictionStore:
    """The latest batch predictions in memory, refreshed in the background from Redis, else the warehouse."""

    def __init__(self, redis_url: str | None, prefix: str, warehouse: Any = None, refresh_seconds: float = 15.0):
        self.prefix = prefix
        self.redis = redis_client(redis_url) if redis_url else None
        self.warehouse = warehouse
        self.refresh_seconds = refresh_seconds
        self.items: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.generated_at: str | None = None
        self.source: str = "none"
        self.loaded_at: float = 0.0
        self.last_error: str | None = None
        self.performance: dict[str, Any] | None = None  # rolling RPS of settled predictions
        # Unix time of the last materialisation of each asset in FRESHNESS_ASSETS (ops.asset_health), for
        # football_data_freshness_seconds{asset=...}.
        self.materialized_at: dict[str, float] = {}
        self.version = 0  # bumped whenever a refresh replaces the batch (rendered pages are dropped then)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _from_redis(self) -> tuple[list[dict], str | None] | None:
        raw = self.redis.get(f"{self.prefix}:predictions") if self.redis is not None else None
        if not raw:
            return None
        blob = json.loads(raw)
        return blob["items"], blob.get("generated_at")

    def _from_warehouse(self) -> tuple[list[dict], str | None] | None:
        if not _warehouse_table(self.warehouse, "analytics.predictions"):
            return None
        frame = self.warehouse.query_df(
            """SELECT * FROM analytics.predictions p
               WHERE p.generated_at = (SELECT MAX(generated_at) FROM analytics.predictions)
               ORDER BY match_date, div, home_team""",
            read_only=True,
        )
        return records_for_api(frame), (pd.Timestamp(frame["generated_at"].iloc[0]).isoformat() if len(frame) else None)

    def refresh(self) -> None:
        errors = []
        for name, loader in (("redis", self._from_redis), ("warehouse", self._from_warehouse)):
            try:
                got = loader()
            except Exception as exc:  # Redis down or the warehouse busy: try the next source
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            if got is not None:
                items, generated = got
                # One assignment each: readers see either the old or the new snapshot.
                self.by_id = {i["match_id"]: i for i in items}
                self.items = items
                self.generated_at, self.source = generated, name
                self.version += 1
                break
        else:  # no source answered with a batch: what is kept in memory is no longer confirmed by any store
            if self.source != ("stale" if self.items else "none"):
                self.source = "stale" if self.items else "none"
                self.version += 1
        try:
            self.performance = self._performance()
        except Exception as exc:
            errors.append(f"performance: {type(exc).__name__}: {exc}")
        try:
            self.materialized_at = self._materialized_at()
        except Exception as exc:
            errors.append(f"asset health: {type(exc).__name__}: {exc}")
        self.loaded_at = time.monotonic()
        self.last_error = "; ".join(errors) or None

    def _materialized_at(self) -> dict[str, float]:
        """Last materialisation of the source data assets, from the health report's ``ops.asset_health``."""
        if not _warehouse_table(self.warehouse, "ops.asset_health"):
            return {}
        names = ", ".join(f"'{name}'" for name in FRESHNESS_ASSETS)
        frame = self.warehouse.query_df(
            f"""SELECT asset_key, last_materialized_at FROM ops.asset_health
                WHERE asset_key IN ({names}) AND last_materialized_at IS NOT NULL""",
            read_only=True,
        )
        return {row.asset_key: pd.Timestamp(row.last_materialized_at).timestamp() for row in frame.itertuples()}

    def _performance(self, window: int = ROLLING_MATCHES) -> dict[str, Any] | None:
        """Mean RPS of the model and of the closing line over the last ``window`` settled matches."""
        raw = self.redis.get(f"{self.prefix}:performance") if self.redis is not None else None
        if raw:
            return json.loads(raw)
        if not _warehouse_table(self.warehouse, "analytics.prediction_performance"):
            return None
        frame = self.warehouse.query_df(
            f"""SELECT model_name, rps_model, rps_closing FROM analytics.prediction_performance
                ORDER BY match_date DESC LIMIT {int(window)}""",
            read_only=True,
        )
        return rolling_performance(frame)

    def start(self) -> None:
        self.refresh()

        def loop() -> None:
            while not self._stop.wait(self.refresh_seconds):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="prediction-store", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
