"""Feast around the pre-match features: the store's configuration per profile and the Feast objects.

The Feast adapter of ``lib/``: no Dagster here, and Feast is imported lazily inside the functions that need it
(importing it costs seconds). The rows the views read are shaped in :mod:`football_platform.lib.feature_rows`.
``match_diffs_udf`` stays in this module: Feast's registry refers to it by this module's name.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from football_platform.contracts import FEATURE_SERVICE
from football_platform.lib.feature_rows import (
    DIFF_VIEW,
    ENTITY,
    FLOAT_FIELDS,
    FORM_VIEW,
    RATINGS_VIEW,
    SCHEDULE_VIEW,
    SIDE_COLUMNS,
    SIDES,
    STRING_FIELDS,
    VIEW_FIELDS,
)

# How far back the local (DuckDB) point-in-time join looks for a team's row. Every match has its own row at
# kick-off, so training rows never need more; upcoming fixtures find the state row written after the last match
# (a season plus its summer break). Online reads ignore it. The bound keeps the join from pairing each match with
# a team's whole history (quadratic: 14 GB and half an hour on the full history without it). Not in prod: Feast's
# PostgreSQL template turns the bound into a range join PostgreSQL plans as a nested loop (a 3-season training
# set went from seconds to over 10 minutes).
LOCAL_OFFLINE_LOOKBACK = timedelta(days=400)


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

    from football_platform.lib.feature_rows import (
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
