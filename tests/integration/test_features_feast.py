"""The features domain end to end on real services: dbt-built E0 warehouse, real Feast (file/SQLite locally,
PostgreSQL + Redis + SQL registry for prod), Dagster materialisation, and leakage through the point-in-time join."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from football_platform.defs.features import assets as fa
from football_platform.lib import feature_rows as frows
from football_platform.lib import feature_store as fs
from football_platform.lib import feature_tables as ftables
from football_platform.lib.features import (
    KEY_COLUMNS,
    MARKET_AWARE_FEATURES,
    build_match_features,
    features_from_states,
    team_state_after,
)
from football_platform.lib.loading import ingest_many
from football_platform.lib.sources import DirectorySource
from football_platform.lib.warehouse import Warehouse
from football_platform.resources import FeastResource, WarehouseResource
from tests.conftest import REDIS_TEST_URL, REPO_ROOT, create_pg_database, drop_pg_database

SEASONS = ["2122", "2223", "2324"]
N_MATCHES = 380 * len(SEASONS)
SIDE_AND_DIFF = frows.side_and_diff_columns()


@pytest.fixture(scope="module")
def e0_warehouse(tmp_path_factory, football_data_dir: Path) -> Warehouse:
    """E0 2021/22-2023/24 ingested, then dbt's fct_matches and stg_fixtures built (dbt run, own target dir)."""
    root = tmp_path_factory.mktemp("e0")
    wh = Warehouse(kind="duckdb", path=root / "warehouse.duckdb")
    outcomes = ingest_many(wh, DirectorySource(football_data_dir), [(s, "E0") for s in SEASONS])
    assert [o.status for o in outcomes] == ["loaded"] * len(SEASONS)
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "FOOTBALL_WAREHOUSE": str(wh.path), "FOOTBALL_DBT_TARGET": "local"}
    project = REPO_ROOT / "dbt_project"
    cmd = [str(dbt), "run", "--project-dir", str(project), "--profiles-dir", str(project), "--target", "local",
           "--select", "+fct_matches", "+stg_fixtures", "--target-path", str(root / "dbt_target"),
           "--log-path", str(root / "dbt_logs")]
    seed = [str(dbt), "seed", *cmd[2:]]
    for command in (seed, cmd):
        done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=project)
        assert done.returncode == 0, done.stdout[-3000:]
    assert int(wh.query_df("SELECT COUNT(*) FROM analytics.fct_matches").iloc[0, 0]) == N_MATCHES
    return wh


@pytest.fixture(scope="module")
def matches(e0_warehouse: Warehouse) -> pd.DataFrame:
    return frows.matches_frame(e0_warehouse.query_df(ftables.MATCHES_SQL), e0_warehouse.query_df(ftables.OU_SQL))


def _materialize_all(wh: Warehouse, feast: FeastResource) -> dg.ExecuteInProcessResult:
    assets = [fa.match_features, fa.team_state, fa.feast_apply, fa.feast_online_materialization, fa.training_set]
    result = dg.materialize(assets, resources={
        "warehouse": WarehouseResource(kind="duckdb", duckdb_path=str(wh.path)), "feast": feast})
    assert result.success
    return result


def _meta(result: dg.ExecuteInProcessResult, key: str) -> dict:
    mats = result.asset_materializations_for_node(key)
    return {k: v.value for k, v in mats[-1].metadata.items()}


def _same(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> bool:
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True, rtol=0, atol=1e-9))


def test_dagster_materialize_local_profile(e0_warehouse: Warehouse, matches: pd.DataFrame, tmp_path: Path):
    """All five assets run on the local profile; the training set equals the features computed directly (the
    point-in-time join picks each match's own pre-match row); the online store serves the latest state."""
    feast = FeastResource(profile="local", state_dir=str(tmp_path), redis_key_prefix="football")
    result = _materialize_all(e0_warehouse, feast)

    mf = _meta(result, "match_features")
    assert mf["dagster/row_count"] == N_MATCHES and mf["team_match_rows"] == 2 * N_MATCHES
    n_teams = int(e0_warehouse.query_df(
        "SELECT COUNT(DISTINCT t) FROM (SELECT home_team AS t FROM analytics.fct_matches "
        "UNION SELECT away_team FROM analytics.fct_matches) x").iloc[0, 0])
    assert _meta(result, "team_state")["dagster/row_count"] == n_teams
    assert "team_ratings" in _meta(result, "feast_apply")["registry_diff"]
    mat = _meta(result, "feast_online_materialization")
    assert mat["teams"] == n_teams and mat["rows_written"] == 9 * n_teams
    assert _meta(result, "training_set")["dagster/row_count"] == N_MATCHES

    stored = e0_warehouse.query_df("SELECT * FROM analytics.match_features")
    assert not {"fthg", "ftag", "result", "home_goals", "source_file", "updated_at"} & set(stored.columns)
    training = e0_warehouse.query_df("SELECT * FROM analytics.training_set")
    assert list(training.columns) == fa.TRAINING_COLUMNS
    expected = build_match_features(matches)
    expected["match_date"] = expected["match_date"].dt.strftime("%Y-%m-%d")
    training["match_date"] = pd.to_datetime(training["match_date"]).dt.strftime("%Y-%m-%d")
    joined = training.merge(expected, on=KEY_COLUMNS, suffixes=("", "_direct"), validate="one_to_one")
    assert len(joined) == N_MATCHES
    for col in [c for c in MARKET_AWARE_FEATURES if c not in KEY_COLUMNS]:
        assert _same(joined[col], joined[f"{col}_direct"]), col
    # Labels come from the results: H/D/A agrees with the goals.
    sign = np.sign(training["fthg"] - training["ftag"]).map({1: "H", 0: "D", -1: "A"})
    assert (sign == training["result"]).all()

    # Online: the feature service for one fixture and the team views for two teams give the latest state.
    store = feast.store()
    states = team_state_after(matches)
    online = store.get_online_features(features=store.get_feature_service(fs.FEATURE_SERVICE),
                                       entity_rows=[{"home_team": "Arsenal", "away_team": "Chelsea"}],
                                       full_feature_names=True).to_dict()
    assert online["home_team_ratings__elo"][0] == pytest.approx(states.loc["Arsenal", "elo"], abs=1e-9)
    assert online["away_team_ratings__elo"][0] == pytest.approx(states.loc["Chelsea", "elo"], abs=1e-9)
    assert online["match_diffs__diff_elo"][0] == pytest.approx(
        states.loc["Arsenal", "elo"] - states.loc["Chelsea", "elo"], abs=1e-9)
    rows = store.get_online_features(features=frows.online_feature_refs(),
                                     entity_rows=[{"team": "Arsenal"}, {"team": "Chelsea"}]).to_dict()
    home = frows.state_from_online({k: v[0] for k, v in rows.items()})
    away = frows.state_from_online({k: v[1] for k, v in rows.items()})
    assert home["recent_date_1"] == pd.Timestamp("2024-05-19")  # EPL 2023/24 final day
    served = features_from_states(home, away, "2024-08-17")
    direct = features_from_states(states.loc["Arsenal"].to_dict(), states.loc["Chelsea"].to_dict(), "2024-08-17")
    assert served.keys() == direct.keys()
    for key, value in direct.items():
        assert value == served[key] or (pd.isna(value) and pd.isna(served[key])), key


def _historical(state_dir: Path, frame: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """Rebuild features from ``frame``, publish them to a fresh local Feast repo, point-in-time join."""
    feats = build_match_features(frame)
    long = frows.team_match_rows(feats, frame["event_timestamp"])
    state = frows.state_rows(team_state_after(frame), frame["match_date"].max() + pd.Timedelta(days=1))
    feast = FeastResource(profile="local", state_dir=str(state_dir))
    feast.paths.team_features.parent.mkdir(parents=True, exist_ok=True)
    frows.team_feature_rows(long, state).to_parquet(feast.paths.team_features, index=False)
    store = feast.store()
    store.apply(list(feast.objects().values()))
    hist = store.get_historical_features(entity_df=frows.entity_frame(entities),
                                         features=store.get_feature_service(fs.FEATURE_SERVICE),
                                         full_feature_names=True).to_df()
    return frows.feast_to_feature_columns(hist).set_index(["home_team", "away_team"]).sort_index()


def test_no_leakage_through_feast(matches: pd.DataFrame, tmp_path: Path):
    """Changing one result leaves that match's own Feast features unchanged and changes the team's next match."""
    frame = matches.copy()
    mid = frame[frame["season"] == "2223"].sort_values("match_date").iloc[150]
    team = mid["home_team"]
    later = frame[((frame["home_team"] == team) | (frame["away_team"] == team))
                  & (frame["match_date"] > mid["match_date"])].sort_values("match_date").iloc[0]
    entities = frame.loc[[mid.name, later.name]]
    before = _historical(tmp_path / "before", frame, entities)
    changed = frame.copy()
    changed.loc[mid.name, "fthg"] = changed.loc[mid.name, "fthg"] + 4
    after = _historical(tmp_path / "after", changed, entities)
    own = (mid["home_team"], mid["away_team"])
    nxt = (later["home_team"], later["away_team"])
    for col in SIDE_AND_DIFF:
        assert _same(before.loc[own, col], after.loc[own, col]), col
    side = "home" if later["home_team"] == team else "away"
    assert not _same(before.loc[nxt, f"{side}_elo"], after.loc[nxt, f"{side}_elo"])
    assert not _same(before.loc[nxt, f"{side}_form5_gd"], after.loc[nxt, f"{side}_form5_gd"])


@pytest.fixture
def prod_feast(tmp_path: Path):
    """A prod-profile FeastResource on fresh PostgreSQL databases (warehouse and SQL registry apart, as in every
    deployment) and a per-test Redis project (key prefix)."""
    url = create_pg_database("fp_feast")
    registry_url = create_pg_database("fp_feast_registry")
    prefix = f"fp_test_{uuid.uuid4().hex[:8]}"
    feast = FeastResource(profile="prod", state_dir=str(tmp_path), database_url=url, registry_url=registry_url,
                          redis_url=REDIS_TEST_URL, redis_key_prefix=prefix)
    try:
        yield feast, Warehouse(kind="postgres", url=url)
    finally:
        import redis

        client = redis.Redis.from_url(REDIS_TEST_URL)
        stale = [k for k in client.scan_iter(count=1000) if prefix.encode() in k]
        if stale:
            client.delete(*stale)
        drop_pg_database(url)
        drop_pg_database(registry_url)


def _tables(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT table_name FROM information_schema.tables")}


def test_prod_round_trip_postgres_redis(prod_feast, matches: pd.DataFrame):
    """PostgreSQL offline store + SQL registry + Redis: point-in-time rows and the latest state online."""
    feast, pg = prod_feast
    feats = build_match_features(matches)
    states = team_state_after(matches)
    ftables.replace_table(pg, "analytics.team_match_features", frows.team_match_rows(feats, matches["event_timestamp"]),
                     date_columns=["match_date"])
    ftables.replace_table(pg, "analytics.team_state",
                     frows.state_rows(states, matches["match_date"].max() + pd.Timedelta(days=1)))
    store = feast.store()
    store.apply(list(feast.objects().values()))
    assert {fv.name for fv in store.list_feature_views()} >= {"team_ratings", "home_team_form", "away_team_schedule"}
    # The SQL registry lives in its own database; the warehouse holds only the offline tables.
    assert {"feast_metadata", "feature_views", "projects"} <= _tables(feast.registry_url)
    assert not {"feast_metadata", "feature_views", "projects"} & _tables(pg.url)
    store.materialize(pd.Timestamp("2021-01-01", tz="UTC").to_pydatetime(),
                      pd.Timestamp("2024-12-31", tz="UTC").to_pydatetime())

    online = store.get_online_features(features=store.get_feature_service(fs.FEATURE_SERVICE),
                                       entity_rows=[{"home_team": "Liverpool", "away_team": "Everton"}],
                                       full_feature_names=True).to_dict()
    assert online["home_team_ratings__elo"][0] == pytest.approx(states.loc["Liverpool", "elo"], abs=1e-9)
    assert online["away_team_form__form5_points"][0] == pytest.approx(states.loc["Everton", "form5_points"], abs=1e-9)
    import redis

    keys = [k for k in redis.Redis.from_url(REDIS_TEST_URL).scan_iter(count=1000) if feast.project.encode() in k]
    assert keys, "materialisation wrote nothing under the project's Redis keys"

    sample = matches.sort_values("match_date").iloc[[10, 500, 1100]]
    hist = store.get_historical_features(entity_df=frows.entity_frame(sample),
                                         features=store.get_feature_service(fs.FEATURE_SERVICE),
                                         full_feature_names=True).to_df()
    hist = frows.feast_to_feature_columns(hist).set_index(["home_team", "away_team"]).sort_index()
    want = feats.loc[sample.index].set_index(["home_team", "away_team"]).sort_index()
    for col in SIDE_AND_DIFF:
        assert _same(hist[col], want[col]), col
