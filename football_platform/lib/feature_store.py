"""Feast around the pre-match features: store configuration per profile, the Feast objects, frame shaping.

No Dagster here, and Feast is imported lazily inside the functions that need it (importing it costs
seconds). Two kinds of rows live in the same per-team feature views, told apart by their timestamp:

* **match rows** (``analytics.team_match_features``): one per team per match, stamped with the kick-off
  (UTC). They hold the team's *side* features for that match exactly as :func:`build_match_features`
  computed them (``elo``, ``pi_venue``, ``dc_xg``, ``rest_days``...). A point-in-time join at a kick-off
  returns the row of that very match, whose features were computed before any result of its day.
* **state rows** (``analytics.team_state``): one per team, stamped the day after the last match (or the
  configured as-of date). They hold the team's *state* (:meth:`FeatureEngine.team_state`): everything
  :func:`features_from_states` needs for an upcoming fixture. The online store serves these (they are the
  newest row of every team); :func:`state_from_online` turns an online row back into a state mapping.

A field that only one kind of row defines is null in the other (``rest_days`` depends on the fixture's date,
so a state row cannot hold it; ``recent_date_1`` is state-only).
"""

from __future__ import annotations

import inspect
import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd

from football_platform.contracts import FEATURE_SERVICE
from football_platform.lib.features import FORM_STATS, FUNDAMENTAL_FEATURES, KEY_COLUMNS, N_RECENT_DATES, FeatureParams

ENTITY = "team"
RATINGS_VIEW = "team_ratings"
FORM_VIEW = "team_form"
SCHEDULE_VIEW = "team_schedule"
DIFF_VIEW = "match_diffs"
SIDES = ("home", "away")
UK_TZ = "Europe/London"
DEFAULT_KICKOFF = "15:00"  # football-data has no kick-off times before 2019/20: the traditional Saturday slot
# How far back the local (DuckDB) point-in-time join looks for a team's row. Every match has its own row at
# kick-off, so training rows never need more; upcoming fixtures find the state row written after the last match
# (a season plus its summer break). Online reads ignore it. The bound keeps the join from pairing each match with
# a team's whole history (quadratic: 14 GB and half an hour on the full history without it). Not in prod: Feast's
# PostgreSQL template turns the bound into a range join PostgreSQL plans as a nested loop (a 3-season training
# set went from seconds to over 10 minutes).
LOCAL_OFFLINE_LOOKBACK = timedelta(days=400)

# Side features of build_match_features (``home_<x>`` / ``away_<x>`` / ``diff_<x>``), in features.py's order.
SIDE_COLUMNS: list[str] = [c[len("home_"):] for c in FUNDAMENTAL_FEATURES if c.startswith("home_")]
FORM_FIELDS: list[str] = [f"form{w}_{s}" for w in FeatureParams().form_windows for s in FORM_STATS]
# Per view: float fields and string fields. Dates are ISO strings ('' = none): every store and both offline
# engines round-trip strings exactly, while nullable timestamps do not survive all of them.
RATINGS_FLOATS = ["elo", "elo_hfa", "pi_home", "pi_away", "pi_venue", "dc_attack", "dc_defence", "dc_xg",
                  "dc_intercept", "dc_home_adv", "dc_rho"]
SCHEDULE_FLOATS = ["rest_days", "matches_14d", "season_matches"]
RECENT_DATE_FIELDS = [f"recent_date_{k + 1}" for k in range(N_RECENT_DATES)]
SCHEDULE_STRINGS = ["div", "season", "season_matches_key", "league_season_start", *RECENT_DATE_FIELDS]
VIEW_FIELDS: dict[str, tuple[list[str], list[str]]] = {
    RATINGS_VIEW: (RATINGS_FLOATS, []),
    FORM_VIEW: (FORM_FIELDS, []),
    SCHEDULE_VIEW: (SCHEDULE_FLOATS, SCHEDULE_STRINGS),
}
FLOAT_FIELDS = RATINGS_FLOATS + FORM_FIELDS + SCHEDULE_FLOATS
STRING_FIELDS = SCHEDULE_STRINGS
TEAM_ROW_COLUMNS = ["team", "event_timestamp", "created_timestamp", "row_kind", *FLOAT_FIELDS, *STRING_FIELDS]
# State fields features_from_states reads (FeatureEngine.team_state) -> where they live in the views.
STATE_FLOATS = ["elo", "elo_hfa", "pi_home", "pi_away", "dc_attack", "dc_defence", "dc_intercept", "dc_home_adv",
                "dc_rho", *FORM_FIELDS, "season_matches"]
STATE_DATES = ["league_season_start", *RECENT_DATE_FIELDS]
STATE_STRINGS = ["div", "season", "season_matches_key"]

assert set(SIDE_COLUMNS) <= set(FLOAT_FIELDS), "every side feature of features.py must be a Feast field"


# --------------------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeastPaths:
    """Where the local profile keeps Feast's files (all under ``<state_dir>/feast``)."""

    root: Path

    @classmethod
    def for_state_dir(cls, state_dir: Path | str) -> FeastPaths:
        return cls(Path(state_dir) / "feast")

    @property
    def registry(self) -> Path:
        return self.root / "registry.db"

    @property
    def online_store(self) -> Path:
        return self.root / "online_store.db"

    @property
    def team_features(self) -> Path:
        """Offline source of the team views: match rows and state rows, one parquet file."""
        return self.root / "data" / "team_features.parquet"


def project_name(redis_key_prefix: str) -> str:
    """Feast project name: it namespaces the registry and every Redis key, so it doubles as the key prefix.

    Feast's Redis store has no key-prefix option; its keys start with the project name instead.
    """
    name = re.sub(r"[^A-Za-z0-9_]", "_", redis_key_prefix.strip()) or "football"
    return name if name[0].isalpha() else f"p_{name}"


def postgres_parts(database_url: str) -> dict[str, Any]:
    """``postgresql://user:pw@host:port/db?sslmode=require`` -> Feast's PostgreSQL config fields."""
    parts = urlsplit(database_url)
    if parts.scheme.split("+", 1)[0].lower() not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must start with postgresql:// for Feast's offline store (got {parts.scheme!r})")
    query = parse_qs(parts.query)
    user = unquote(parts.username or "") or "postgres"
    return {
        "host": unquote(parts.hostname or "") or "127.0.0.1",
        "port": int(parts.port or 5432),
        "database": unquote(parts.path.lstrip("/")) or user,
        "user": user,
        "password": unquote(parts.password or ""),
        # Feast defaults to 'require', which a plain local server refuses: follow libpq's default unless told.
        "sslmode": query.get("sslmode", ["prefer"])[0],
    }


def sqlalchemy_url(database_url: str) -> str:
    """The SQL registry's SQLAlchemy URL (psycopg 3 driver), same database and options as DATABASE_URL."""
    return re.sub(r"^postgres(?:ql)?(?:\+[a-z0-9]+)?://", "postgresql+psycopg://", database_url)


def redis_connection_string(redis_url: str) -> str:
    """``redis://:pw@host:6379/2`` -> Feast's ``host:port,db=2,password=pw[,ssl=true]``."""
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must start with redis:// or rediss:// (got {redis_url!r})")
    out = f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
    db = parts.path.lstrip("/")
    if db:
        out += f",db={int(db)}"
    if parts.password:
        out += f",password={unquote(parts.password)}"
    if parts.scheme == "rediss":
        out += ",ssl=true"
    return out


def store_config(
    profile: str,
    state_dir: Path | str,
    database_url: str | None = None,
    redis_url: str | None = None,
    redis_key_prefix: str = "football",
    registry_url: str | None = None,
) -> dict[str, Any]:
    """The content of feature_store.yaml for a profile (a plain dict; :func:`repo_config` makes it a RepoConfig).

    prod: ``registry_url`` is the SQL registry's database (FEAST_REGISTRY_URL); unset, the warehouse's.
    """
    common: dict[str, Any] = {
        "project": project_name(redis_key_prefix),
        "provider": "local",
        "entity_key_serialization_version": 3,
    }
    if profile == "prod":
        if not database_url:
            raise ValueError("the prod profile needs DATABASE_URL for Feast's offline store and SQL registry")
        if not redis_url:
            raise ValueError("the prod profile needs REDIS_URL for Feast's online store")
        return {
            **common,
            "registry": {"registry_type": "sql", "path": sqlalchemy_url(registry_url or database_url),
                         "cache_ttl_seconds": 60,
                         "sqlalchemy_config_kwargs": {"echo": False, "pool_pre_ping": True}},
            "offline_store": {"type": "postgres", "db_schema": "analytics", **postgres_parts(database_url)},
            "online_store": {"type": "redis", "connection_string": redis_connection_string(redis_url)},
        }
    if profile != "local":
        raise ValueError(f"unknown profile {profile!r}; expected 'local' or 'prod'")
    paths = FeastPaths.for_state_dir(state_dir)
    return {
        **common,
        "registry": {"registry_type": "file", "path": str(paths.registry), "cache_ttl_seconds": 60},
        "offline_store": {"type": "duckdb"},  # point-in-time joins in DuckDB (ibis), not pandas/dask
        "online_store": {"type": "sqlite", "path": str(paths.online_store)},
    }


def store_config_for_settings(settings: Any) -> dict[str, Any]:
    """:func:`store_config` for a :class:`~football_platform.settings.Settings`."""
    return store_config(settings.profile, settings.state_dir, settings.database_url, settings.redis_url,
                        settings.redis_key_prefix, getattr(settings, "feast_registry_url", None))


def repo_config(config: Mapping[str, Any], repo_path: Path | str):
    """A Feast ``RepoConfig`` from :func:`store_config`'s dict."""
    from feast.repo_config import RepoConfig

    return RepoConfig(repo_path=Path(repo_path), **dict(config))


def feature_store_yaml(config: Mapping[str, Any]) -> str:
    """feature_store.yaml text for a config dict (what ``feast`` CLI users would write)."""
    import yaml

    return yaml.safe_dump(dict(config), sort_keys=False)


# --------------------------------------------------------------------------------------------------------------------
# Feast objects
# --------------------------------------------------------------------------------------------------------------------
TEAM_FEATURES_QUERY = (
    "SELECT team, event_timestamp, created_timestamp, {cols} FROM analytics.team_match_features "
    "UNION ALL SELECT team, event_timestamp, created_timestamp, {cols} FROM analytics.team_state"
).format(cols=", ".join(f'"{c}"' for c in FLOAT_FIELDS + STRING_FIELDS))


def _projection_name(side: str, view: str) -> str:
    return f"{side}_{view}"


def match_diffs_udf(inputs):  # noqa: ANN001, ANN201 - no annotations: Feast resolves them in its own namespace
    """Home minus away of every side feature (Feast pandas on-demand transformation): DataFrame -> DataFrame."""
    # Imports inside: should Feast ever store the function by value, it would lose this module's globals.
    import numpy as np
    import pandas as pd

    from football_platform.lib.feature_store import (
        FORM_FIELDS,
        FORM_VIEW,
        RATINGS_FLOATS,
        RATINGS_VIEW,
        SCHEDULE_VIEW,
        SIDE_COLUMNS,
    )

    out = pd.DataFrame(index=inputs.index)
    missing = pd.Series(np.nan, index=inputs.index, dtype="float64")
    for col in SIDE_COLUMNS:
        view = RATINGS_VIEW if col in RATINGS_FLOATS else FORM_VIEW if col in FORM_FIELDS else SCHEDULE_VIEW
        # Feast keys an ODFV's sources by view name, so the schema inference of `feast apply` only offers one of
        # the two projections (as `team_ratings__elo`); real retrievals carry both full names. Absent -> NaN.
        home = pd.to_numeric(inputs.get(f"home_{view}__{col}", missing), errors="coerce")
        away = pd.to_numeric(inputs.get(f"away_{view}__{col}", missing), errors="coerce")
        out[f"diff_{col}"] = (home - away).astype("float64")
    return out


def build_feast_objects(profile: str, paths: FeastPaths | None = None) -> dict[str, Any]:
    """Every Feast object of the repo, by name.

    Entities ``team``, ``home_team``, ``away_team``; views ``team_ratings``, ``team_form``, ``team_schedule``
    (entity ``team``: what serving reads per team) and the same three per role, ``home_team_*`` /
    ``away_team_*`` (same rows, join keys ``home_team`` / ``away_team``); the on-demand view ``match_diffs``;
    the feature service ``match_outcome_v1`` (home and away views + ``match_diffs``).
    """
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource
    from feast.on_demand_feature_view import OnDemandFeatureView
    from feast.types import Float64, String

    entities = {
        role: Entity(name=role, join_keys=[role], value_type=ValueType.STRING,
                     description=f"A club, by its canonical name (dbt's team_aliases){desc}.")
        for role, desc in ((ENTITY, ""), ("home_team", ", playing at home"), ("away_team", ", playing away"))
    }

    def source_for(role: str):
        # Home and away roles read the same rows with `team` renamed to their join key (Feast cannot feed an
        # on-demand view two projections of one view: it keys ODFV sources by view name).
        mapping = {} if role == ENTITY else {"team": role}
        name = "team_features_source" if role == ENTITY else f"{role}_features_source"
        if profile == "prod":
            return PostgreSQLSource(
                name=name, query=TEAM_FEATURES_QUERY, timestamp_field="event_timestamp",
                created_timestamp_column="created_timestamp", field_mapping=mapping,
                description="analytics.team_match_features (one row per team per match, at kick-off) UNION ALL "
                            "analytics.team_state (one row per team, after the last match).",
            )
        if paths is None:
            raise ValueError("the local profile needs FeastPaths for the parquet offline source")
        return FileSource(
            name=name, path=str(paths.team_features), timestamp_field="event_timestamp",
            created_timestamp_column="created_timestamp", field_mapping=mapping,
            description="Parquet export of analytics.team_match_features + analytics.team_state.",
        )

    descriptions = {
        RATINGS_VIEW: "Elo, pi-ratings and Dixon-Coles parameters of a team (and its league's values).",
        FORM_VIEW: "Mean points, goals and shots over the last 5 and 10 matches.",
        SCHEDULE_VIEW: "Rest, congestion and season progress; recent match dates (state rows) for serving.",
    }
    objects: dict[str, Any] = dict(entities)
    views: dict[tuple[str, str], Any] = {}
    lookback = LOCAL_OFFLINE_LOOKBACK if profile != "prod" else timedelta(0)  # 0: no bound
    for role in (ENTITY, "home_team", "away_team"):
        source = source_for(role)
        objects[source.name] = source
        for name, (floats, strings) in VIEW_FIELDS.items():
            view_name = name if role == ENTITY else _projection_name(role.split("_")[0], name)
            views[(role, name)] = FeatureView(
                name=view_name, entities=[entities[role]], ttl=lookback,
                schema=[Field(name=c, dtype=Float64) for c in floats] + [Field(name=c, dtype=String) for c in strings],
                source=source, online=True, description=descriptions[name] + ("" if role == ENTITY else f" ({role})"),
                tags={"owner": "team:ml", "row_kinds": "match,state", "role": role},
            )
            objects[view_name] = views[(role, name)]
    side_views = [views[(f"{side}_team", name)] for side in SIDES for name in VIEW_FIELDS]
    diff_schema = [Field(name=f"diff_{c}", dtype=Float64) for c in SIDE_COLUMNS]
    # Not the @on_demand_feature_view decorator: it rewrites the function's __module__ to '__main__' (to pickle it
    # by value), which breaks the next build in the same process. Pickled by reference, the function is found in
    # this package by every process that reads the registry (Dagster, the API).
    match_diffs = OnDemandFeatureView(
        name=DIFF_VIEW, sources=side_views, schema=diff_schema, mode="pandas", udf=match_diffs_udf,
        udf_string=inspect.getsource(match_diffs_udf),
        description="Home minus away of every side feature (diff_* columns of features.py).",
    )
    service = FeatureService(
        name=FEATURE_SERVICE, features=[*side_views, match_diffs],
        description="Pre-match features of a fixture: home_team_* and away_team_* views and their differences. "
                    "Use full_feature_names=True; rename with feast_to_feature_columns().",
        tags={"owner": "team:ml"},
    )
    return {**objects, DIFF_VIEW: match_diffs, FEATURE_SERVICE: service}


# --------------------------------------------------------------------------------------------------------------------
# Frame shaping
# --------------------------------------------------------------------------------------------------------------------
def kickoff_utc(match_date: pd.Series, kickoff_time: pd.Series | None = None) -> pd.Series:
    """Kick-off instants in UTC from the UK calendar date and 'HH:MM' UK time (15:00 when unknown)."""
    dates = pd.to_datetime(match_date).dt.strftime("%Y-%m-%d")
    times = pd.Series(DEFAULT_KICKOFF, index=dates.index) if kickoff_time is None else (
        kickoff_time.astype("string").str.strip().fillna(DEFAULT_KICKOFF).replace("", DEFAULT_KICKOFF)
    )
    local = pd.to_datetime(dates + " " + times.astype(str), format="%Y-%m-%d %H:%M", errors="coerce")
    if local.isna().any():
        bad = local.index[local.isna()][0]
        raise ValueError(f"row {bad!r}: cannot read kick-off {dates[bad]!r} {times[bad]!r} (expected HH:MM)")
    # Clocks-back hours are ambiguous: take the first (summer-time) instant; none is nonexistent at football hours.
    return local.dt.tz_localize(UK_TZ, ambiguous=np.ones(len(local), dtype=bool),
                                nonexistent="shift_forward").dt.tz_convert("UTC")


def _iso(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def team_match_rows(features: pd.DataFrame, kickoffs: pd.Series) -> pd.DataFrame:
    """Long form of build_match_features' output: one row per team per match, side features unprefixed.

    ``kickoffs`` (UTC, aligned with ``features``) becomes ``event_timestamp``; state-only fields are null.
    """
    parts = []
    for side, other in (("home", "away"), ("away", "home")):
        part = pd.DataFrame({
            "team": features[f"{side}_team"].astype(str),
            "div": features["div"].astype(str),
            "season": features["season"].astype(str),
            "match_date": pd.to_datetime(features["match_date"]).dt.date,
            "event_timestamp": kickoffs,
            "opponent": features[f"{other}_team"].astype(str),
            "is_home": side == "home",
        }, index=features.index)
        for col in SIDE_COLUMNS:
            part[col] = features[f"{side}_{col}"].astype("float64")
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    long["created_timestamp"] = long["event_timestamp"]
    long["row_kind"] = "match"
    for col in FLOAT_FIELDS:
        if col not in long:
            long[col] = np.nan
    for col in STRING_FIELDS:
        if col not in long:
            long[col] = ""
    lead = ["team", "div", "season", "match_date", "event_timestamp", "opponent", "is_home", "created_timestamp",
            "row_kind"]
    rest = [c for c in FLOAT_FIELDS + STRING_FIELDS if c not in lead]
    return long[lead + rest].sort_values(["event_timestamp", "team"], kind="mergesort").reset_index(drop=True)


def state_rows(states: pd.DataFrame, event_timestamp: pd.Timestamp) -> pd.DataFrame:
    """team_state_after's frame -> the rows of analytics.team_state (state fields, dates as ISO strings)."""
    ts = pd.Timestamp(event_timestamp)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    out = pd.DataFrame({"team": states["team"].astype(str).to_numpy()})
    out["event_timestamp"] = ts
    out["created_timestamp"] = ts
    out["row_kind"] = "state"
    for col in FLOAT_FIELDS:
        out[col] = pd.to_numeric(states[col], errors="coerce").to_numpy(dtype=float) if col in states else np.nan
    for col in STRING_FIELDS:
        if col in STATE_DATES:
            out[col] = [_iso(v) for v in states[col]] if col in states else ""
        else:
            out[col] = states[col].fillna("").astype(str).to_numpy() if col in states else ""
    missing = [c for c in STATE_FLOATS + STATE_DATES + STATE_STRINGS if c not in states.columns]
    if missing:
        raise ValueError(f"team state frame lacks {missing}: features_from_states needs them")
    return out.sort_values("team", kind="mergesort").reset_index(drop=True)


def team_feature_rows(match_rows: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    """The Feast offline source: match rows and state rows with the same columns (TEAM_ROW_COLUMNS)."""
    frame = pd.concat([match_rows[TEAM_ROW_COLUMNS], state[TEAM_ROW_COLUMNS]], ignore_index=True)
    for col in ("event_timestamp", "created_timestamp"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    for col in STRING_FIELDS:
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def state_from_online(row: Mapping[str, Any]) -> dict[str, Any]:
    """One team's online-store row -> the state mapping features_from_states expects.

    ``row`` holds the fields of the three views by their bare names (``get_online_features(...).to_dict()``
    for one entity with ``full_feature_names=False`` per view, or ``{field: value}`` read from Redis);
    ``team_ratings__elo``-style full names are accepted too. Mapping:
    floats ``elo, elo_hfa, pi_home, pi_away, dc_attack, dc_defence, dc_intercept, dc_home_adv, dc_rho,
    form{5,10}_*`` -> float; ``season_matches`` -> int; ``league_season_start``, ``recent_date_1..5``
    ('YYYY-MM-DD' or '') -> Timestamp / NaT; ``div, season, season_matches_key`` -> str; ``team`` kept.
    """
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, list) and len(value) == 1:  # to_dict() of a one-entity response
            value = value[0]
        flat[key.split("__", 1)[1] if "__" in key else key] = value
    missing = [c for c in ("elo", "dc_intercept", "div") if flat.get(c) in (None, "")]
    if missing:
        raise ValueError(f"online row for team {flat.get('team')!r} has no {missing}: is it materialised?")
    state: dict[str, Any] = {"team": flat.get("team")}
    for col in STATE_FLOATS:
        value = flat.get(col)
        state[col] = float("nan") if value is None else float(value)
    state["season_matches"] = 0 if math.isnan(state["season_matches"]) else int(state["season_matches"])
    for col in STATE_DATES:
        value = flat.get(col)
        state[col] = pd.Timestamp(value) if value else pd.NaT
    for col in STATE_STRINGS:
        state[col] = "" if flat.get(col) is None else str(flat[col])
    return state


# --------------------------------------------------------------------------------------------------------------------
# Feast's online layouts, read directly (the API's request path: no Feast import, one round trip for two teams)
# --------------------------------------------------------------------------------------------------------------------
# What serving reads: every field of the three team views (entity ``team``), view by view.
ONLINE_FIELDS: list[tuple[str, str]] = [(view, c) for view, (floats, strings) in VIEW_FIELDS.items()
                                        for c in floats + strings]
_STRING_VALUE_TYPE = 2  # feast.types.Value.ValueType.STRING


def entity_key_bytes(value: str, join_key: str = ENTITY) -> bytes:
    """Feast's ``serialize_entity_key`` (serialization version 3) of a one-column string entity key."""
    key, val = join_key.encode("utf-8"), value.encode("utf-8")
    return b"".join((struct.pack("<I", 1), struct.pack("<II", _STRING_VALUE_TYPE, len(key)), key,
                     struct.pack("<II", _STRING_VALUE_TYPE, len(val)), val))


def redis_entity_key(project: str, team: str) -> bytes:
    """Key of a team's Redis hash in Feast's Redis online store: serialized entity key + project name."""
    return entity_key_bytes(team) + project.encode("utf-8")


def redis_field(view: str, field: str) -> bytes:
    """Hash field of one feature in Feast's Redis layout: murmur3 (32-bit, unsigned, little-endian) of 'view:field'."""
    import mmh3

    return struct.pack("<I", mmh3.hash(f"{view}:{field}", signed=False))


def redis_timestamp_field(view: str) -> bytes:
    """Hash field holding a view's event timestamp (a protobuf Timestamp)."""
    return f"_ts:{view}".encode()


def redis_fields() -> list[bytes]:
    """The HMGET field list of one team: every ONLINE_FIELDS entry, then each view's timestamp field."""
    return [redis_field(v, f) for v, f in ONLINE_FIELDS] + [redis_timestamp_field(v) for v in VIEW_FIELDS]


def sqlite_table(project: str, view: str) -> str:
    """Table of one view in Feast's SQLite online store (one row per entity key and feature)."""
    return f"{project}_{view}"


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode_value(raw: bytes | None) -> Any:
    """A serialized ``feast.types.Value`` -> Python scalar (None for an empty/null value).

    Handles the scalar kinds the team views use (double, float, int32/64, bool, string, bytes); list values
    raise ValueError. A hand decoder: importing Feast's protobuf modules loads all of Feast (seconds).
    """
    if not raw:
        return None
    tag, pos = _varint(raw, 0)
    number, wire = tag >> 3, tag & 7
    if wire == 1 and number == 5:  # double_val
        return struct.unpack_from("<d", raw, pos)[0]
    if wire == 2 and number in (1, 2):  # bytes_val, string_val
        length, pos = _varint(raw, pos)
        data = raw[pos:pos + length]
        return data.decode("utf-8") if number == 2 else bytes(data)
    if wire == 5 and number == 6:  # float_val
        return struct.unpack_from("<f", raw, pos)[0]
    if wire == 0 and number in (3, 4, 7, 8):  # int32, int64, bool, unix_timestamp
        value, _ = _varint(raw, pos)
        if number == 7:
            return bool(value)
        return value - (1 << 64) if value >= 1 << 63 else value
    if wire == 0 and number == 19:  # null_val
        return None
    raise ValueError(f"unsupported Feast value (field {number}, wire type {wire}): {bytes(raw[:16])!r}")


def decode_timestamp(raw: bytes | None) -> float | None:
    """A serialized ``google.protobuf.Timestamp`` -> epoch seconds (None when absent)."""
    if raw is None:
        return None
    seconds = nanos = 0
    pos = 0
    while pos < len(raw):
        tag, pos = _varint(raw, pos)
        value, pos = _varint(raw, pos)
        if tag >> 3 == 1:
            seconds = value - (1 << 64) if value >= 1 << 63 else value
        elif tag >> 3 == 2:
            nanos = value
    return seconds + nanos / 1e9


def states_from_rows(rows: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Team rows with the view fields by bare name (``analytics.team_state``, the rows materialised online)
    -> ``{team: state}`` through :func:`state_from_online`, exactly as serving reads the online store."""
    return {str(rec["team"]): state_from_online(rec) for rec in rows.to_dict("records")}


def online_feature_refs() -> list[str]:
    """Every field of the three views as ``view:field`` (what the API asks the online store for)."""
    return [f"{view}:{c}" for view, (floats, strings) in VIEW_FIELDS.items() for c in floats + strings]


def feast_to_feature_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename get_historical_features' full names to features.py's: ``home_team_ratings__elo`` -> ``home_elo``,
    ``match_diffs__diff_elo`` -> ``diff_elo``; drops the state-only fields (null on match rows)."""
    renames: dict[str, str] = {}
    drop: list[str] = []
    for col in frame.columns:
        if "__" not in col:
            continue
        prefix, field = col.split("__", 1)
        if prefix == DIFF_VIEW:
            renames[col] = field
            continue
        side = prefix.split("_", 1)[0]
        if side in SIDES and field in SIDE_COLUMNS:
            renames[col] = f"{side}_{field}"
        else:
            drop.append(col)
    return frame.drop(columns=drop).rename(columns=renames)


def side_and_diff_columns() -> list[str]:
    """home_*, away_*, diff_* columns of FUNDAMENTAL_FEATURES (what the feature service yields, renamed)."""
    return [c for c in FUNDAMENTAL_FEATURES if c.split("_", 1)[0] in ("home", "away", "diff")]


def entity_frame(matches: pd.DataFrame) -> pd.DataFrame:
    """Entity rows for the point-in-time join: key + ``event_timestamp`` (kick-off UTC) from a matches frame."""
    needed = [*KEY_COLUMNS, "event_timestamp"]
    missing = [c for c in needed if c not in matches.columns]
    if missing:
        raise ValueError(f"entity frame needs columns {missing}")
    out = matches[needed].copy()
    # An ISO string: Feast would otherwise treat a datetime key column as a timestamp and shift it to UTC.
    out["match_date"] = pd.to_datetime(out["match_date"]).dt.strftime("%Y-%m-%d")
    out["event_timestamp"] = pd.to_datetime(out["event_timestamp"], utc=True)
    return out.reset_index(drop=True)


def sql_type(dtype: Any) -> str:
    """Column type for a pandas dtype, valid on DuckDB and PostgreSQL."""
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(dtype):
        return "DOUBLE PRECISION"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "TIMESTAMP WITH TIME ZONE"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "TIMESTAMP"
    return "VARCHAR"


def create_table_sql(table: str, frame: pd.DataFrame, date_columns: Sequence[str] = ()) -> str:
    cols = ", ".join(f'"{c}" {"DATE" if c in date_columns else sql_type(frame[c].dtype)}' for c in frame.columns)
    return f"CREATE TABLE {table} ({cols})"


# --------------------------------------------------------------------------------------------------------------------
# Reading the warehouse
# --------------------------------------------------------------------------------------------------------------------
OU_BOOKMAKERS = ("PS", "Avg", "BbAv", "B365")  # preference order for the pre-match over/under 2.5 price

MATCHES_SQL = """
SELECT match_id, div, season, match_date, kickoff_time, home_team, away_team, home_team_source, away_team_source,
       home_goals AS fthg, away_goals AS ftag, result, home_shots, away_shots, home_shots_on_target,
       away_shots_on_target, pre_p_home, pre_p_draw, pre_p_away, pre_overround, close_p_home, close_p_draw,
       close_p_away
FROM analytics.fct_matches
ORDER BY match_date, div, home_team, away_team
"""

OU_SQL = """
SELECT div, season, home_team, away_team, bookmaker, selection, price
FROM raw.odds
WHERE market = 'ou25' AND period = 'pre' AND flag IS NULL AND price > 1
"""

UPCOMING_SQL = """
SELECT f.div, f.season, f.match_date, f.home_team, f.away_team
FROM staging.stg_fixtures AS f
LEFT JOIN analytics.fct_matches AS m
  ON m.div = f.div AND m.season = f.season AND m.home_team = f.home_team AND m.away_team = f.away_team
WHERE m.match_id IS NULL
"""


def pre_match_ou_odds(ou: pd.DataFrame) -> pd.DataFrame:
    """raw.odds rows (ou25, pre) -> one (over, under) pair per match from the first bookmaker quoting both."""
    cols = ["div", "season", "home_team", "away_team", "odds_pre_over25", "odds_pre_under25"]
    if ou.empty:
        return pd.DataFrame(columns=cols)
    wide = ou.pivot_table(index=["div", "season", "home_team", "away_team", "bookmaker"], columns="selection",
                          values="price", aggfunc="first").reset_index()
    for sel in ("over", "under"):
        if sel not in wide:
            wide[sel] = np.nan
    wide = wide.dropna(subset=["over", "under"])
    rank = {b: i for i, b in enumerate(OU_BOOKMAKERS)}
    wide["rank"] = wide["bookmaker"].map(rank).fillna(len(rank)).astype(int)
    wide = wide.sort_values(["div", "season", "home_team", "away_team", "rank", "bookmaker"], kind="mergesort")
    best = wide.drop_duplicates(["div", "season", "home_team", "away_team"])
    return best.rename(columns={"over": "odds_pre_over25", "under": "odds_pre_under25"})[cols].reset_index(drop=True)


def matches_frame(fct: pd.DataFrame, ou: pd.DataFrame | None = None) -> pd.DataFrame:
    """fct_matches rows (MATCHES_SQL) + pre-match OU prices -> build_match_features' input.

    fct_matches stores the chosen 1X2 source as margin-free probabilities and the overround; prices are
    rebuilt as 1/(p * overround), which gives back exactly those probabilities and that overround.
    ``raw.odds`` uses the site's team spelling, hence the join on ``*_team_source``.
    """
    frame = fct.copy()
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    frame["season"] = frame["season"].astype(str)
    for side, col in (("h", "pre_p_home"), ("d", "pre_p_draw"), ("a", "pre_p_away")):
        with np.errstate(divide="ignore", invalid="ignore"):
            frame[f"odds_pre_{side}"] = 1.0 / (pd.to_numeric(frame[col]) * pd.to_numeric(frame["pre_overround"]))
    if ou is not None and not ou.empty:
        best = pre_match_ou_odds(ou).rename(columns={"home_team": "home_team_source", "away_team": "away_team_source"})
        frame = frame.merge(best, on=["div", "season", "home_team_source", "away_team_source"], how="left",
                            validate="many_to_one")
    else:
        frame["odds_pre_over25"] = np.nan
        frame["odds_pre_under25"] = np.nan
    frame["event_timestamp"] = kickoff_utc(frame["match_date"], frame.get("kickoff_time"))
    return frame.reset_index(drop=True)


def replace_table(warehouse: Any, table: str, frame: pd.DataFrame, date_columns: Sequence[str] = ()) -> int:
    """Drop and recreate ``table`` (``schema.name``) holding ``frame``, in one transaction; returns the row count.

    PostgreSQL's COPY path writes datetimes with a date-only format, so timestamps and dates travel as ISO text.
    """
    schema = table.split(".", 1)[0]
    out = frame.copy()
    if not warehouse.is_duckdb:
        for col in out.columns:
            if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                out[col] = out[col].dt.strftime("%Y-%m-%d %H:%M:%S%z")
            elif col in date_columns:
                out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d")
    with warehouse.connect() as conn, conn.transaction():
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(create_table_sql(table, frame, date_columns))
        conn.copy_into(table, out)
    return len(out)


def read_team_rows(warehouse: Any) -> pd.DataFrame:
    """analytics.team_match_features + analytics.team_state as the Feast offline source (local parquet export).

    Before the first model update (a fresh deployment's first daily run) there are no match rows yet: the state
    rows alone are what the online store serves."""
    cols = ", ".join(f'"{c}"' for c in TEAM_ROW_COLUMNS)
    frames = [warehouse.query_df(f"SELECT {cols} FROM analytics.{t}") for t in ("team_match_features", "team_state")
              if t == "team_state" or warehouse.table_exists("analytics", t)]
    return team_feature_rows(frames[0], frames[1]) if len(frames) == 2 else team_feature_rows(frames[0].iloc[0:0],
                                                                                              frames[0])
