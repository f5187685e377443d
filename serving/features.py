"""Online team state and cached batch predictions, as the API reads them.

Layout (written by the ``batch_predictions`` asset, see ``serving.publish``):

* ``<prefix>:team_state:<team>``: a Redis hash per team, the fields of ``team_state_after`` as text plus
  ``_version`` (the features timestamp). This is the serving layer's own layout, not Feast's: both teams are
  read in ONE pipelined ``HGETALL`` round trip.
* ``<prefix>:teams``: hash team -> division (the ``/teams`` list and the close-name suggestions).
* ``<prefix>:predictions``: JSON of the latest batch (``{"generated_at", "items": [...]}``).

Without Redis (local profile) the same data come from the warehouse tables ``analytics.serving_team_state``
and ``analytics.predictions``, read through brief read-only connections and kept in memory.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

import pandas as pd

from football_platform.lib.predictions import state_from_record

log = logging.getLogger("serving.features")
ROLLING_MATCHES = 200  # settled matches behind the rolling RPS gauges
REDIS_TIMEOUT_SECONDS = 0.25  # a dead Redis must turn into a quick 503, never a hang


class FeaturesUnavailable(RuntimeError):
    """The online store cannot be read right now (the API answers 503 with this reason)."""


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                socket_connect_timeout=REDIS_TIMEOUT_SECONDS, retry_on_timeout=False)


def _warehouse_table(warehouse: Any, table: str) -> bool:
    schema, name = table.split(".")
    return warehouse is not None and warehouse.table_exists(schema, name, read_only=True)


class StateReader:
    """Team states for ``/predict``: Redis (prod) or the warehouse snapshot kept in memory (local)."""

    def __init__(self, redis_url: str | None, prefix: str, warehouse: Any = None, refresh_seconds: float = 30.0):
        self.prefix = prefix
        self.redis = redis_client(redis_url) if redis_url else None
        self.warehouse = warehouse
        self.refresh_seconds = refresh_seconds
        self._teams: dict[str, str] = {}
        self._local_states: dict[str, dict[str, Any]] = {}
        self._parsed: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def backend(self) -> str:
        return "redis" if self.redis is not None else "warehouse"

    def _key(self, team: str) -> str:
        return f"{self.prefix}:team_state:{team}"

    def refresh(self) -> None:
        """Reload the team list (and, locally, every state). Failures keep what was there."""
        self._loaded_at = time.monotonic()
        try:
            if self.redis is not None:
                raw = self.redis.hgetall(f"{self.prefix}:teams")
                self._teams = {k.decode(): v.decode() for k, v in raw.items()}
            elif _warehouse_table(self.warehouse, "analytics.serving_team_state"):
                frame = self.warehouse.query_df("SELECT team, div, state_json FROM analytics.serving_team_state", read_only=True)
                self._local_states = {r.team: state_from_record(json.loads(r.state_json))
                                      for r in frame.itertuples(index=False)}
                self._teams = {r.team: r.div for r in frame.itertuples(index=False)}
            self.last_error = None
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("team list refresh failed: %s", self.last_error)

    def _maybe_refresh(self) -> None:
        if time.monotonic() - self._loaded_at > self.refresh_seconds and self._lock.acquire(blocking=False):
            try:
                self.refresh()
            finally:
                self._lock.release()

    def teams(self) -> dict[str, str]:
        self._maybe_refresh()
        return dict(self._teams)

    def _parse(self, team: str, record: dict) -> dict[str, Any] | None:
        if not record:
            return None
        version = (record.get(b"_version") or b"").decode()
        key = (team, version)
        state = self._parsed.get(key)
        if state is None:  # parse a team's hash once per batch, not once per request
            state = state_from_record(record)
            self._parsed[key] = state
            if len(self._parsed) > 4096:
                self._parsed.popitem(last=False)
        return state

    def pair(self, home: str, away: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Both teams' states in one round trip; ``None`` for a team without state."""
        if self.redis is None:
            self._maybe_refresh()
            return self._local_states.get(home), self._local_states.get(away)
        import redis

        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hgetall(self._key(home))
            pipe.hgetall(self._key(away))
            h, a = pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise FeaturesUnavailable(f"online feature store (Redis) unreachable: {type(exc).__name__}") from exc
        return self._parse(home, h), self._parse(away, a)

    def ping(self) -> tuple[bool, str]:
        if self.redis is None:
            return True, "not configured (local profile: states from the warehouse)"
        try:
            self.redis.ping()
            return True, "ok"
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"


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
        return records_for_api(frame), (str(frame["generated_at"].iloc[0]) if len(frame) else None)

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
                break
        try:
            self.performance = self._performance()
        except Exception as exc:
            errors.append(f"performance: {type(exc).__name__}: {exc}")
        self.loaded_at = time.monotonic()
        self.last_error = "; ".join(errors) or None

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
