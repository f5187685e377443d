"""Online team features and cached batch predictions, as the API reads them.

**Online features** (``POST /predict``) come from Feast's online store, read directly in its own layout so the
API never imports Feast (seconds of import, a heavy request path):

* prod, Redis: one hash per team keyed by Feast's serialized entity key + project name, one field per feature
  (murmur3 of ``view:field``) holding a protobuf ``Value``, plus ``_ts:<view>``. Both teams' rows of the three
  team views (``team_ratings``, ``team_form``, ``team_schedule``) come back in ONE pipelined ``HMGET`` pair.
* local, SQLite: Feast's file ``<state_dir>/feast/online_store.db``, one table per view (``<project>_<view>``);
  both teams' rows of the three views in ONE ``UNION ALL`` query.

The rows are those the ``feast_online_materialization`` asset wrote from ``analytics.team_state``;
``football_platform.lib.feature_store.state_from_online`` turns one into the state ``features_from_states``
reads. The team directory (``/teams``, closest names on a miss, known leagues) is ``analytics.team_state``'s
``team, div``, re-read in the background through brief read-only connections.

**Batch predictions** (``GET /predictions``): the latest batch from Redis (``<prefix>:predictions``, written by
the ``batch_predictions`` asset, see ``serving.publish``), else ``analytics.predictions`` in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from football_platform.lib import feature_store as fs

log = logging.getLogger("serving.features")
ROLLING_MATCHES = 200  # settled matches behind the rolling RPS gauges
REDIS_TIMEOUT_SECONDS = 0.25  # a dead Redis must turn into a quick 503, never a hang
SQLITE_TIMEOUT_SECONDS = 0.25  # waiting for a materialisation's write lock
_N_FIELDS = len(fs.ONLINE_FIELDS)
_FIELD_NAMES = [f for _, f in fs.ONLINE_FIELDS]
_FIELD_INDEX = {vf: i for i, vf in enumerate(fs.ONLINE_FIELDS)}
_VIEWS = list(fs.VIEW_FIELDS)


class FeaturesUnavailable(RuntimeError):
    """The online store cannot be read right now (the API answers 503 with this reason)."""


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                socket_connect_timeout=REDIS_TIMEOUT_SECONDS, retry_on_timeout=False)


def _warehouse_table(warehouse: Any, table: str) -> bool:
    schema, name = table.split(".")
    return warehouse is not None and warehouse.table_exists(schema, name, read_only=True)


@dataclass(frozen=True)
class OnlineTeam:
    """One team's online row: the state for ``features_from_states`` and the row's event timestamp."""

    team: str
    state: dict[str, Any]
    timestamp: dt.datetime  # oldest of the three views' event timestamps (UTC)


def parse_online_values(team: str, values: list[Any], timestamps: list[float | None]) -> OnlineTeam | None:
    """Decoded field values (ONLINE_FIELDS order) and per-view epoch timestamps -> OnlineTeam; None when any view
    has no row for the team (a feature miss)."""
    if any(t is None for t in timestamps):
        return None
    state = fs.state_from_online({"team": team, **dict(zip(_FIELD_NAMES, values, strict=True))})
    stamp = dt.datetime.fromtimestamp(min(timestamps), dt.UTC)
    return OnlineTeam(team, state, stamp)


def _sqlite_epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return pd.Timestamp(value).tz_localize("UTC").timestamp()


class OnlineFeatureReader:
    """Both teams' rows of the team views from Feast's online store (Redis or SQLite) in one round trip."""

    def __init__(self, project: str, *, redis_url: str | None = None, sqlite_path: Path | str | None = None,
                 warehouse: Any = None, refresh_seconds: float = 30.0):
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
        self._fields = fs.redis_fields()
        self.background = False  # True once a background thread refreshes the directory
        self._sqlite_sql = " UNION ALL ".join(
            f"SELECT {i} AS v, entity_key, feature_name, value, event_ts FROM "
            f"\"{fs.sqlite_table(project, view)}\" WHERE entity_key IN (?, ?)" for i, view in enumerate(_VIEWS))
        self.last_error: str | None = None

    @classmethod
    def for_settings(cls, settings: Any, warehouse: Any = None, refresh_seconds: float = 30.0) -> OnlineFeatureReader:
        """The profile's online store, from the same config Feast gets (``store_config_for_settings``)."""
        config = fs.store_config_for_settings(settings)
        online = config["online_store"]
        if online["type"] == "redis":
            return cls(config["project"], redis_url=settings.redis_url, warehouse=warehouse,
                       refresh_seconds=refresh_seconds)
        return cls(config["project"], sqlite_path=online["path"], warehouse=warehouse,
                   refresh_seconds=refresh_seconds)

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
            pipe.hmget(fs.redis_entity_key(self.project, home), self._fields)
            pipe.hmget(fs.redis_entity_key(self.project, away), self._fields)
            return [tuple(r) for r in pipe.execute()]
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise FeaturesUnavailable(f"online feature store (Redis) unreachable: {type(exc).__name__}") from exc

    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if not self.sqlite_path.exists():
                raise FeaturesUnavailable(f"online feature store (SQLite) not found at {self.sqlite_path}: "
                                          "materialise feast_online_materialization first")
            conn = sqlite3.connect(f"{self.sqlite_path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=SQLITE_TIMEOUT_SECONDS, check_same_thread=True)
            self._local.conn = conn
        return conn

    def _sqlite_raw(self, home: str, away: str) -> list[tuple]:
        keys = [fs.entity_key_bytes(home), fs.entity_key_bytes(away)]
        try:
            rows = self._sqlite().execute(self._sqlite_sql, keys * len(_VIEWS)).fetchall()
        except sqlite3.Error as exc:
            self._local.conn = None
            raise FeaturesUnavailable(f"online feature store (SQLite) unreadable: {type(exc).__name__}: {exc}") \
                from exc
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
            values = [fs.decode_value(b) for b in raw[:_N_FIELDS]]
            if self.redis is not None:  # protobuf Timestamps
                stamps = [fs.decode_timestamp(b) for b in raw[_N_FIELDS:]]
            else:  # SQLite: epoch seconds (Feast 0.67), or naive UTC text from older writers
                stamps = [_sqlite_epoch(ts) for ts in raw[_N_FIELDS:]]
            try:
                parsed = parse_online_values(team, values, stamps)
            except ValueError as exc:  # a row without its ratings: a broken materialisation, not an unknown team
                raise FeaturesUnavailable(f"online features of {team!r} are incomplete: {exc}") from exc
            if parsed is None:
                return None
            self._parsed[key] = parsed
            if len(self._parsed) > 4096:
                self._parsed.popitem(last=False)
        return parsed

    def pair(self, home: str, away: str) -> tuple[OnlineTeam | None, OnlineTeam | None]:
        """Both teams' online rows in one round trip; ``None`` for a team the online store does not hold."""
        raw = self._redis_raw(home, away) if self.redis is not None else self._sqlite_raw(home, away)
        return self._parse(home, raw[0]), self._parse(away, raw[1])

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


def rolling_performance(frame: pd.DataFrame) -> dict[str, Any] | None:
    """``{"model", "matches", "rps_model", "rps_closing"}`` of the given settled rows (closing on its own rows)."""
    if frame.empty:
        return None
    closing = frame["rps_closing"].dropna()
    return {"model": str(frame["model_name"].iloc[0]), "matches": int(len(frame)),
            "rps_model": float(frame["rps_model"].mean()),
            "rps_closing": float(closing.mean()) if len(closing) else None}


def records_for_api(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Prediction rows as JSON-ready dicts (ISO dates, NaN -> None)."""
    out = []
    for rec in frame.to_dict("records"):
        item: dict[str, Any] = {}
        for k, v in rec.items():
            if isinstance(v, pd.Timestamp):
                v = v.date().isoformat() if k == "match_date" else v.isoformat()
            elif hasattr(v, "isoformat"):
                v = v.isoformat()
            elif isinstance(v, float) and v != v:
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            item[k] = v
        out.append(item)
    return out
