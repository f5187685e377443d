"""``POST /predict``: one computation shared by the FastAPI route and a pure-ASGI fast path in front of it.

:class:`Predictor` turns two team names (+ league, kickoff) into the response body: model check, league check,
both teams' online rows in one round trip (:meth:`OnlineFeatureReader.apair`, on the event loop), unknown-team
404 with the closest names, the model row (``model_input``, the one path batch predictions use too) and CatBoost
on it. With ``cache_size > 0`` the probabilities of a (home row, away row, kickoff, league) are kept for the model
that computed them: rows are identified by :attr:`OnlineTeam.serial`, new for every new content read from the
store, so an entry can only be reused while both teams' online rows are byte for byte what was just read (a
materialisation that changes a row makes a new key), and a model swap empties the cache.

:class:`PredictFastPath` answers ``POST /predict`` before FastAPI's routing, dependency injection and pydantic
when the request is plainly valid: a JSON object that ``PredictRequest`` would accept with the same values. It
runs inside :class:`serving.guard.Guard`, which has already checked the key, its ``read`` scope, the shared rate
limit and the body size. Anything else (a bad body, an unusual content type) is handed to the FastAPI route
untouched, which answers exactly as before (422 and the OpenAPI schema stay FastAPI's). Requests through either
path do the same work: metrics, access log (the request middleware wraps both), the same :meth:`Predictor.predict`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from typing import Any

import orjson
import pandas as pd
from fastapi import HTTPException

from football_platform.lib.predictions import model_input, probabilities
from football_platform.lib.seasons import current_season
from football_platform.settings import DEFAULT_LEAGUES
from serving.features import FeaturesUnavailable, public_error
from serving.guard import _replay

log = logging.getLogger("serving.api")
PATH = "/predict"
_BODY_KEYS = frozenset({"home_team", "away_team", "league", "kickoff"})
_MAX_BODY = 4096  # a valid body is a few hundred bytes; larger ones go to the FastAPI route
_JSON = (b"content-type", b"application/json")


def close_names(name: str, known: list[str]) -> list[str]:
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.5)
    return [by_lower[c] for c in close]


class Predictor:
    def __init__(self, settings: Any, holder: Any, reader: Any, metrics: Any, cache_size: int = 16384):
        self.as_of = pd.Timestamp(settings.as_of).normalize() if settings.as_of else None
        self.holder = holder
        self.reader = reader
        self.metrics = metrics
        self.cache_size = cache_size
        self._cache: dict[tuple, tuple] = {}
        self._cache_model: Any = None
        self._served = metrics.predictions_served.labels(PATH)

    async def predict(self, home_team: str, away_team: str, league: str | None, kickoff: dt.date | None) -> bytes:
        """The JSON body of a 200 answer; raises HTTPException (404, 503) or FeaturesUnavailable (503)."""
        loaded = self.holder.current
        if loaded is None:
            raise HTTPException(503, f"no model loaded: {public_error(self.holder.last_error) or 'registry not checked yet'}")
        leagues = self.reader.leagues()
        if league and leagues and league not in leagues:
            raise HTTPException(404, f"no online features for league {league!r}; served: {sorted(leagues)}")
        home, away = await self.reader.apair(home_team, away_team)
        for name, row in ((home_team, home), (away_team, away)):
            if row is None:
                self.metrics.feature_misses.inc()
                close = close_names(name, list(self.reader.teams()))
                raise HTTPException(404, {"message": f"unknown team {name!r}: no online features", "closest": close})
        div = league or str(home.state["div"])
        # No await from here on: the model checked is the model used, and the cache belongs to it.
        if loaded is not self._cache_model:
            self._cache = {}
            self._cache_model = loaded
        key = (home.serial, away.serial, kickoff, div)
        hit = self._cache.get(key) if self.cache_size > 0 else None
        if hit is None:
            hit = self._compute(loaded, home, away, div, kickoff)
            if self.cache_size > 0:
                if len(self._cache) >= self.cache_size:
                    del self._cache[next(iter(self._cache))]  # oldest entry
                self._cache[key] = hit
        season, kickoff_iso, p_home, p_draw, p_away, p_over = hit
        self._served.inc()
        return orjson.dumps({
            "home_team": home_team, "away_team": away_team, "league": div, "season": season, "kickoff": kickoff_iso,
            "p_home": p_home, "p_draw": p_draw, "p_away": p_away, "p_over25": p_over,
            "p_under25": None if p_over is None else 1.0 - p_over,
            "model": {"name": loaded.name, "version": loaded.version},
            "features_timestamp": min(home.timestamp, away.timestamp).isoformat()})

    def _compute(self, loaded: Any, home: Any, away: Any, div: str, kickoff: dt.date | None) -> tuple:
        if kickoff is not None:
            when = pd.Timestamp(kickoff)
        elif self.as_of is not None:
            when = self.as_of
        else:
            last = [d for d in (home.state["recent_date_1"], away.state["recent_date_1"]) if not pd.isna(d)]
            when = (max(last) if last else pd.Timestamp("2000-01-01")) + pd.Timedelta(days=1)
        season = current_season(when.date())
        row, p_over = model_input(home.state, away.state, when, loaded.model.feature_names_, div=div, season=season)
        p = probabilities(loaded.model, [row], loaded.order)[0]
        return season, when.date().isoformat(), float(p[0]), float(p[1]), float(p[2]), p_over


def parse_body(body: bytes) -> tuple[str, str, str | None, dt.date | None] | None:
    """``(home_team, away_team, league, kickoff)`` when ``PredictRequest`` would accept ``body`` with exactly these
    values; ``None`` for anything else (the FastAPI route then validates and answers)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not data.keys() <= _BODY_KEYS:
        return None
    home, away, league, kickoff = data.get("home_team"), data.get("away_team"), data.get("league"), data.get("kickoff")
    if type(home) is not str or type(away) is not str or not 1 <= len(home) <= 64 or not 1 <= len(away) <= 64:
        return None
    home, away = home.strip(), away.strip()
    if not home or not away or home == away:
        return None
    if league is not None and league not in DEFAULT_LEAGUES:
        return None
    if kickoff is not None:
        kickoff = iso_date(kickoff)
        if kickoff is None:
            return None
    return home, away, league, kickoff


DATE_MIN, DATE_MAX = dt.date(1990, 1, 1), dt.date(2100, 12, 31)
# The same rule for the OpenAPI document (clients and fuzzers); iso_date is what the API applies.
DATE_PATTERN = r"^(199[0-9]|20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def iso_date(value: Any) -> dt.date | None:
    """A ``YYYY-MM-DD`` string of a real day between DATE_MIN and DATE_MAX, else ``None`` (numbers, timestamps,
    week dates and other forms pydantic would take are refused)."""
    if (type(value) is not str or len(value) != 10 or value[4] != "-" or value[7] != "-"
            or not (digits := value[:4] + value[5:7] + value[8:]).isascii() or not digits.isdigit()):
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return day if DATE_MIN <= day <= DATE_MAX else None


def _is_json(content_type: bytes | None) -> bool:
    """Content types FastAPI reads as JSON, in their common spelling (others go to the route)."""
    return content_type is None or content_type.split(b";", 1)[0].strip().lower() == b"application/json"


class PredictFastPath:
    """Pure ASGI middleware, innermost (inside CORS and the request middleware): see the module docstring."""

    def __init__(self, app: Any, predictor: Predictor, route: Any):
        self.app = app
        self.predictor = predictor
        self.route = route  # the FastAPI route of /predict: the request middleware labels metrics by its path

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client gone: let the route see it as before
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
        body = b"".join(chunks)
        answer = None if more or size > _MAX_BODY else await self._answer(scope, body)
        if answer is None:
            await self.app(scope, _replay(body, more, receive), send)
            return
        status, payload, headers = answer
        scope["route"] = self.route
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", b"%d" % len(payload)), _JSON, *headers]})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, scope: dict, body: bytes) -> tuple[int, bytes, list] | None:
        content_type = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
                break
        who = scope.get("state", {}).get("principal")
        if not body or not _is_json(content_type) or who is None or "read" not in who.scopes:
            return None  # the route answers (the guard has checked the key: this is only a safety net)
        parsed = parse_body(body)
        if parsed is None:
            return None
        try:
            return 200, await self.predictor.predict(*parsed), []
        except HTTPException as exc:
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
            return exc.status_code, orjson.dumps({"detail": exc.detail}), headers
        except FeaturesUnavailable as exc:
            return 503, orjson.dumps({"detail": public_error(str(exc))}), [(b"retry-after", b"5")]
        except Exception:
            log.exception("unhandled error", extra={"request_id": scope.get("state", {}).get("request_id")})
            return 500, orjson.dumps({"detail": "internal error"}), []

