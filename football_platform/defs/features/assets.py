"""Features domain: pre-match features into the warehouse, Feast registry, online store and the training set.

Feast is imported inside asset bodies only (through :class:`FeastResource`): loading the definitions stays fast.
"""


import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from football_platform.contracts import CLOSING_PROB_COLUMNS, RESULT_COLUMNS, WAREHOUSE_POOL
from football_platform.defs.common.keys import (
    FCT_MATCHES,
    FEAST_APPLY,
    MATCH_FEATURES,
    RAW_MATCHES,
    STG_FIXTURES,
    TEAM_STATE,
)
from football_platform.defs.common.metadata import table_preview
from football_platform.lib import feature_rows as frows
from football_platform.lib import feature_store as fs
from football_platform.lib import feature_tables as ftables
from football_platform.lib.features import KEY_COLUMNS, MARKET_AWARE_FEATURES, build_match_features, team_state_after
from football_platform.lib.state_checkpoint import team_state_incremental
from football_platform.resources import FeastResource, WarehouseResource

GROUP = "features"
OWNERS = ["team:ml"]
TEAM_STATE_CHECKPOINT = "team_state_engine.pkl"  # under the warehouse resource's cache_dir
TRAINING_CHUNK_ROWS = 10_000  # entity rows per point-in-time join
TRAINING_COLUMNS = [*KEY_COLUMNS, *RESULT_COLUMNS,
                    *[c for c in MARKET_AWARE_FEATURES if c not in KEY_COLUMNS], *CLOSING_PROB_COLUMNS]


def warehouse_matches(warehouse) -> pd.DataFrame:
    """Played matches as the feature code reads them (analytics.fct_matches + pre-match over/under prices): the
    input of match_features, team_state and the replay's backtest path."""
    fct = warehouse.query_df(ftables.MATCHES_SQL)
    ou = warehouse.query_df(ftables.OU_SQL) if warehouse.table_exists("raw", "odds") else None
    return frows.matches_frame(fct, ou)


@dg.asset(
    key="match_features",
    deps=[FCT_MATCHES, RAW_MATCHES],  # raw_matches writes raw.odds: the pre-match over/under prices (OU_SQL)
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "pandas", "duckdb", "postgres"},
    pool=WAREHOUSE_POOL,
    code_version="1",
    description=(
        "Pre-match features of every played match (lib/features.py: Elo, pi-ratings, Dixon-Coles, form, rest, "
        "market probabilities from pre-match 1X2 and over/under 2.5 prices) into `analytics.match_features` (key + "
        "features, no results) and their team × match long form into `analytics.team_match_features` (Feast's "
        "offline rows, `event_timestamp` = kick-off UTC). Rebuilt whole each run; deterministic."
    ),
    metadata={"dagster/table_name": "analytics.match_features", "key": ", ".join(KEY_COLUMNS)},
)
def match_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    started = time.perf_counter()
    matches = warehouse_matches(store)
    loaded = time.perf_counter()
    features = build_match_features(matches)
    built = time.perf_counter()
    long = frows.team_match_rows(features, matches["event_timestamp"])
    n_matches = ftables.replace_table(store, "analytics.match_features", features, date_columns=["match_date"])
    n_long = ftables.replace_table(store, "analytics.team_match_features", long, date_columns=["match_date"])
    context.log.info(f"{n_matches} matches, {n_long} team rows in {time.perf_counter() - started:.1f}s")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n_matches,
        "team_match_rows": n_long,
        "feature_columns": len(MARKET_AWARE_FEATURES),
        "leagues": ", ".join(sorted(features["div"].unique())),
        "first_match": str(features["match_date"].min().date()) if n_matches else "",
        "last_match": str(features["match_date"].max().date()) if n_matches else "",
        "with_market_probabilities": int(features["match_market_p_home"].notna().sum()),
        "with_over25_probability": int(features["match_market_p_over25"].notna().sum()),
        "seconds_read": round(loaded - started, 2),
        "seconds_features": round(built - loaded, 2),
        "seconds_total": round(time.perf_counter() - started, 2),
        "preview": table_preview(features, rows=5, cols=12),
    })


@dg.asset(
    key="team_state",
    deps=[FCT_MATCHES, STG_FIXTURES, RAW_MATCHES],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "pandas", "duckdb", "postgres"},
    pool=WAREHOUSE_POOL,
    code_version="1",
    description=(
        "Current state of every team after all played matches (ratings, league parameters, form, recent dates), "
        "with the upcoming fixtures' team lists starting a new season → `analytics.team_state`, one row per team, "
        "`event_timestamp` = the day after the last match. The online store serves these rows; serving rebuilds "
        "features with `features_from_states(state_from_online(...))`."
    ),
    metadata={"dagster/table_name": "analytics.team_state", "key": "team"},
)
def team_state(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    started = time.perf_counter()
    matches = warehouse_matches(store)
    upcoming = None
    if store.table_exists("staging", "stg_fixtures"):
        upcoming = store.query_df(ftables.UPCOMING_SQL)
        upcoming = upcoming if len(upcoming) else None
    if warehouse.cache_dir:  # resumes the engine after the last processed day (lib/state_checkpoint.py)
        states, info = team_state_incremental(matches, upcoming, Path(warehouse.cache_dir) / TEAM_STATE_CHECKPOINT)
        context.log.info(f"team states: {info.mode} ({info.new_matches} new matches){': ' + info.reason if info.reason else ''}")
        incremental = info.as_metadata()
    else:
        states, incremental = team_state_after(matches, upcoming), {"state_mode": "full"}
    as_of = pd.Timestamp(matches["match_date"].max()).normalize() + timedelta(days=1)
    rows = frows.state_rows(states, as_of)
    n = ftables.replace_table(store, "analytics.team_state", rows)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n,
        "state_timestamp": str(rows["event_timestamp"].iloc[0]) if n else "",
        "upcoming_fixtures": 0 if upcoming is None else len(upcoming),
        **incremental,
        "seconds_total": round(time.perf_counter() - started, 2),
        "preview": table_preview(rows.sort_values("elo", ascending=False), rows=10, cols=8),
    })


@dg.asset(
    key="feast_apply",
    deps=["match_features", "team_state"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "feast"},
    code_version="1",
    description=(
        "Registers the Feast objects (entities team/home_team/away_team, views team_*/home_team_*/away_team_* for "
        "ratings, form and schedule, on-demand view match_diffs, feature service match_outcome_v1). Locally it first "
        "exports the team rows to the parquet offline source under state_dir/feast."
    ),
)
def feast_apply(context: dg.AssetExecutionContext, feast: FeastResource,
                warehouse: WarehouseResource) -> dg.MaterializeResult:
    from feast.repo_contents import RepoContents

    started = time.perf_counter()
    exported = None
    if feast.profile != "prod":
        rows = ftables.read_team_rows(warehouse.get())
        feast.paths.team_features.parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(feast.paths.team_features, index=False)
        exported = len(rows)
    store = feast.store()
    objects = feast.objects()
    values = list(objects.values())
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource
    from feast.on_demand_feature_view import OnDemandFeatureView

    contents = RepoContents(
        projects=[], data_sources=[o for o in values if isinstance(o, DataSource)],
        feature_views=[o for o in values if isinstance(o, FeatureView)],
        on_demand_feature_views=[o for o in values if isinstance(o, OnDemandFeatureView)],
        stream_feature_views=[], label_views=[], entities=[o for o in values if isinstance(o, Entity)],
        feature_services=[o for o in values if isinstance(o, FeatureService)], permissions=[],
    )
    registry_diff, _, _ = store.plan(contents)
    diff_text = registry_diff.to_string()
    store.apply(values)
    context.log.info(diff_text or "registry unchanged")
    metadata: dict = {
        "project": feast.project,
        "profile": feast.profile,
        "registry_diff": dg.MetadataValue.md(f"```\n{diff_text.strip() or 'no changes'}\n```"),
        "objects": dg.MetadataValue.json({k: type(v).__name__ for k, v in objects.items()}),
        "feature_service": fs.FEATURE_SERVICE,
        "seconds_total": round(time.perf_counter() - started, 2),
    }
    if exported is not None:
        metadata["offline_rows_exported"] = exported
        metadata["offline_source"] = dg.MetadataValue.path(str(feast.paths.team_features))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key="feast_online_materialization",
    deps=[FEAST_APPLY, TEAM_STATE, MATCH_FEATURES],  # reads analytics.team_state and analytics.team_match_features
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "feast", "redis", "sqlite"},
    code_version="1",
    description=(
        "Loads the newest row of every team (its state row) into the online store (SQLite locally, Redis in prod) "
        "for every team view, over the whole history window (a full refresh: idempotent)."
    ),
)
def feast_online_materialization(context: dg.AssetExecutionContext, feast: FeastResource,
                                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    span = warehouse.get().query_df(
        "SELECT MIN(event_timestamp) AS lo, MAX(event_timestamp) AS hi, COUNT(DISTINCT team) AS teams "
        "FROM analytics.team_state"
    )
    first = (warehouse.get().query_df("SELECT MIN(event_timestamp) AS lo FROM analytics.team_match_features")
             if warehouse.get().table_exists("analytics", "team_match_features") else None)  # none before match_features
    lo = pd.Timestamp(first["lo"].iloc[0] if first is not None and pd.notna(first["lo"].iloc[0])
                      else span["lo"].iloc[0])
    hi = pd.Timestamp(span["hi"].iloc[0])
    teams = int(span["teams"].iloc[0])
    store = feast.store()
    views = [fv.name for fv in store.list_feature_views()]
    started = time.perf_counter()
    store.materialize(start_date=(lo - timedelta(seconds=1)).to_pydatetime(),
                      end_date=(hi + timedelta(seconds=1)).to_pydatetime(), feature_views=views)
    seconds = time.perf_counter() - started
    written = teams * len(views)
    return dg.MaterializeResult(metadata={
        "feature_views": ", ".join(sorted(views)),
        "teams": teams,
        "rows_written": written,
        "window_start": str(lo),
        "window_end": str(hi),
        "seconds_materialize": round(seconds, 2),
        "rows_per_second": round(written / seconds, 1) if seconds else 0.0,
        "online_store": feast.config_dict()["online_store"]["type"],
    })


@dg.asset(
    key="training_set",
    deps=[FEAST_APPLY, MATCH_FEATURES, FCT_MATCHES],  # results and closing probabilities from fct_matches
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "feast", "duckdb", "postgres"},
    pool=WAREHOUSE_POOL,
    code_version="1",
    description=(
        "Training rows for the match-outcome model: Feast point-in-time join of feature service match_outcome_v1 "
        "at each kick-off (home and away views + match_diffs), plus the match_* columns of analytics.match_features, "
        "results (result, fthg, ftag) and closing probabilities (close_p_*: evaluation only, never features) → "
        "`analytics.training_set`. Columns keep lib/features.py's names (MARKET_AWARE_FEATURES)."
    ),
    metadata={"dagster/table_name": "analytics.training_set"},
)
def training_set(context: dg.AssetExecutionContext, feast: FeastResource,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    store_wh = warehouse.get()
    started = time.perf_counter()
    frame = build_training_set(feast.store(), store_wh)
    joined = time.perf_counter()
    n = ftables.replace_table(store_wh, "analytics.training_set", frame, date_columns=["match_date"])
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n,
        "columns": len(frame.columns),
        "result_counts": dg.MetadataValue.json({k: int(v) for k, v in frame["result"].value_counts().items()}),
        "with_closing_odds": int(frame["close_p_home"].notna().sum()),
        "seconds_point_in_time_join": round(joined - started, 2),
        "seconds_total": round(time.perf_counter() - started, 2),
        "preview": table_preview(frame, rows=5, cols=12),
    })


def build_training_set(store: "object", warehouse: "object") -> pd.DataFrame:
    """Point-in-time features from Feast + match columns + labels; one row per match of analytics.match_features."""
    features = warehouse.query_df("SELECT * FROM analytics.match_features")
    fct = warehouse.query_df(ftables.MATCHES_SQL)
    fct["event_timestamp"] = frows.kickoff_utc(fct["match_date"], fct["kickoff_time"])
    for frame in (features, fct):
        frame["match_date"] = pd.to_datetime(frame["match_date"]).dt.strftime("%Y-%m-%d")
    entities = frows.entity_frame(features[KEY_COLUMNS].merge(fct[[*KEY_COLUMNS, "event_timestamp"]], on=KEY_COLUMNS,
                                                           how="inner", validate="one_to_one"))
    service = store.get_feature_service(fs.FEATURE_SERVICE)
    # Chunks of entity rows bound DuckDB's memory on the full history (one call: 4.4 GB peak; see LOCAL_OFFLINE_LOOKBACK).
    hist = pd.concat(
        [store.get_historical_features(entity_df=entities.iloc[start:start + TRAINING_CHUNK_ROWS], features=service,
                                       full_feature_names=True).to_df()
         for start in range(0, len(entities), TRAINING_CHUNK_ROWS)],
        ignore_index=True,
    )
    hist = frows.feast_to_feature_columns(hist)
    match_cols = [c for c in MARKET_AWARE_FEATURES if c.startswith("match_")]
    out = (hist.merge(features[[*KEY_COLUMNS, *match_cols]], on=KEY_COLUMNS, how="left", validate="one_to_one")
               .merge(fct[[*KEY_COLUMNS, *RESULT_COLUMNS, *CLOSING_PROB_COLUMNS]], on=KEY_COLUMNS, how="left",
                      validate="one_to_one"))
    missing = [c for c in TRAINING_COLUMNS if c not in out.columns]
    if missing:
        raise ValueError(f"training set lacks {missing}: feature service {fs.FEATURE_SERVICE} and features.py disagree")
    out["match_date"] = pd.to_datetime(out["match_date"])
    return out[TRAINING_COLUMNS].sort_values(["match_date", "div", "home_team", "away_team"],
                                             kind="mergesort").reset_index(drop=True)
