"""Pure helpers of lib/feature_store.py and lib/feature_rows.py: store configuration per profile, kick-off instants, frame shaping."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from football_platform.lib import feature_rows as frows
from football_platform.lib import feature_store as fs
from football_platform.lib.features import MARKET_AWARE_FEATURES, N_RECENT_DATES


def test_local_config_keeps_every_file_under_state_dir(tmp_path):
    cfg = fs.store_config("local", tmp_path)
    assert cfg["online_store"] == {"type": "sqlite", "path": str(tmp_path / "feast" / "online_store.db")}
    assert cfg["registry"]["path"] == str(tmp_path / "feast" / "registry.db")
    assert cfg["offline_store"]["type"] == "duckdb"
    assert fs.FeastPaths.for_state_dir(tmp_path).team_features.parent.parent == tmp_path / "feast"


def test_prod_config_from_urls():
    cfg = fs.store_config("prod", "/x", "postgresql://u:p%40ss@db.example:5433/wh?sslmode=require",
                          "redis://:secret@cache:6380/3", "Football-Prod")
    assert cfg["project"] == "Football_Prod"
    off = cfg["offline_store"]
    assert (off["host"], off["port"], off["database"], off["user"], off["password"], off["sslmode"]) == (
        "db.example", 5433, "wh", "u", "p@ss", "require")
    assert off["db_schema"] == "analytics"
    assert cfg["registry"]["registry_type"] == "sql"
    assert cfg["registry"]["path"] == "postgresql+psycopg://u:p%40ss@db.example:5433/wh?sslmode=require"
    assert cfg["online_store"]["connection_string"] == "cache:6380,db=3,password=secret"


def test_prod_sslmode_defaults_to_prefer_and_missing_urls_fail():
    assert fs.postgres_parts("postgresql://postgres@127.0.0.1/warehouse")["sslmode"] == "prefer"
    with pytest.raises(ValueError, match="DATABASE_URL"):
        fs.store_config("prod", "/x", None, "redis://h")
    with pytest.raises(ValueError, match="REDIS_URL"):
        fs.store_config("prod", "/x", "postgresql://h/db", None)
    assert fs.redis_connection_string("rediss://h:1/0") == "h:1,db=0,ssl=true"


def test_kickoff_utc_follows_uk_clock_changes():
    dates = pd.Series(pd.to_datetime(["2023-08-12", "2023-12-26", "2003-01-01"]))
    times = pd.Series(["15:00", "20:00", None])
    got = frows.kickoff_utc(dates, times)
    assert str(got.dt.tz) == "UTC"
    # BST (UTC+1) in August, GMT in December; no time -> 15:00 UK.
    assert list(got) == [pd.Timestamp("2023-08-12 14:00", tz="UTC"), pd.Timestamp("2023-12-26 20:00", tz="UTC"),
                         pd.Timestamp("2003-01-01 15:00", tz="UTC")]
    with pytest.raises(ValueError, match="HH:MM"):
        frows.kickoff_utc(pd.Series(pd.to_datetime(["2023-08-12"])), pd.Series(["3pm"]))


def test_ou_prices_prefer_pinnacle_and_need_both_sides():
    ou = pd.DataFrame([
        ("E0", "2324", "A", "B", "Avg", "over", 1.9), ("E0", "2324", "A", "B", "Avg", "under", 1.9),
        ("E0", "2324", "A", "B", "PS", "over", 2.0), ("E0", "2324", "A", "B", "PS", "under", 1.85),
        ("E0", "2324", "C", "D", "PS", "over", 2.0),  # no under from PS
        ("E0", "2324", "C", "D", "B365", "over", 1.7), ("E0", "2324", "C", "D", "B365", "under", 2.1),
    ], columns=["div", "season", "home_team", "away_team", "bookmaker", "selection", "price"])
    best = frows.pre_match_ou_odds(ou).set_index("home_team")
    assert best.loc["A", ["odds_pre_over25", "odds_pre_under25"]].tolist() == [2.0, 1.85]
    assert best.loc["C", ["odds_pre_over25", "odds_pre_under25"]].tolist() == [1.7, 2.1]


def test_prices_rebuilt_from_fct_probabilities_give_them_back():
    fct = pd.DataFrame({"div": ["E0"], "season": ["2324"], "match_date": ["2023-08-12"], "kickoff_time": ["12:30"],
                        "home_team": ["A"], "away_team": ["B"], "home_team_source": ["A"], "away_team_source": ["B"],
                        "pre_p_home": [0.5], "pre_p_draw": [0.3], "pre_p_away": [0.2], "pre_overround": [1.05]})
    m = frows.matches_frame(fct)
    # 1/(0.5*1.05) = 1.904761...; the implied overround is back to 1.05.
    assert m["odds_pre_h"].iloc[0] == pytest.approx(1 / 0.525)
    inv = 1 / m[["odds_pre_h", "odds_pre_d", "odds_pre_a"]].iloc[0]
    assert inv.sum() == pytest.approx(1.05)
    assert (inv / inv.sum()).tolist() == pytest.approx([0.5, 0.3, 0.2])
    assert m["event_timestamp"].iloc[0] == pd.Timestamp("2023-08-12 11:30", tz="UTC")


def test_state_from_online_restores_types():
    row = {c: 1.5 for c in frows.STATE_FLOATS}
    row.update({"team": "Arsenal", "div": "E0", "season": "2324", "season_matches": 38.0,
                "season_matches_key": "E0:2324", "league_season_start": "2023-08-11", "recent_date_1": "2024-05-19",
                "recent_date_2": "", "recent_date_3": None, "rest_days": None})
    state = frows.state_from_online({f"team_ratings__{k}" if k == "elo" else k: [v] for k, v in row.items()})
    assert state["elo"] == 1.5 and state["season_matches"] == 38 and isinstance(state["season_matches"], int)
    assert state["league_season_start"] == pd.Timestamp("2023-08-11")
    assert state["recent_date_1"] == pd.Timestamp("2024-05-19")
    assert pd.isna(state["recent_date_2"]) and pd.isna(state[f"recent_date_{N_RECENT_DATES}"])
    assert state["div"] == "E0" and state["season_matches_key"] == "E0:2324"
    with pytest.raises(ValueError, match="materialised"):
        frows.state_from_online({"team": "X", "elo": None, "div": "E0", "dc_intercept": 0.1})


def test_feast_names_map_back_to_feature_columns():
    frame = pd.DataFrame(columns=["div", "home_team", "home_team_ratings__elo", "away_team_form__form5_points",
                                  "match_diffs__diff_elo", "home_team_schedule__recent_date_1",
                                  "away_team_ratings__dc_intercept"])
    out = frows.feast_to_feature_columns(frame)
    assert list(out.columns) == ["div", "home_team", "home_elo", "away_form5_points", "diff_elo"]


def test_every_side_feature_is_a_view_field_and_the_service_covers_market_aware_features():
    side = frows.side_and_diff_columns()
    assert len(side) == 3 * len(frows.SIDE_COLUMNS)
    match_cols = [c for c in MARKET_AWARE_FEATURES if c.startswith("match_")]
    assert sorted(["div", *side, *match_cols]) == sorted(MARKET_AWARE_FEATURES)


def test_team_rows_long_form_and_state_rows():
    feats = pd.DataFrame({"div": ["E0"], "season": ["2324"], "match_date": pd.to_datetime(["2023-08-12"]),
                          "home_team": ["A"], "away_team": ["B"],
                          **{f"{p}_{c}": [float(i + (100 if p == "away" else 0))]
                             for i, c in enumerate(frows.SIDE_COLUMNS) for p in ("home", "away")}})
    ts = pd.Series([pd.Timestamp("2023-08-12 14:00", tz="UTC")])
    long = frows.team_match_rows(feats, ts).set_index("team")
    assert long.loc["A", "elo"] == 0.0 and long.loc["B", "elo"] == 100.0
    assert bool(long.loc["A", "is_home"]) and long.loc["B", "opponent"] == "A"
    assert math.isnan(long.loc["A", "dc_intercept"]) and long.loc["A", "recent_date_1"] == ""
    states = pd.DataFrame([{**{c: 2.0 for c in frows.STATE_FLOATS}, "team": "A", "div": "E0", "season": "2324",
                            "season_matches_key": "E0:2324", "league_season_start": pd.Timestamp("2023-08-11"),
                            **{c: pd.NaT for c in frows.RECENT_DATE_FIELDS}}])
    st = frows.state_rows(states, pd.Timestamp("2024-05-20"))
    assert st["event_timestamp"].iloc[0] == pd.Timestamp("2024-05-20", tz="UTC")
    assert st["league_season_start"].iloc[0] == "2023-08-11" and st["recent_date_1"].iloc[0] == ""
    assert np.isnan(st["rest_days"].iloc[0])
    both = frows.team_feature_rows(long.reset_index(), st)
    assert list(both.columns) == frows.TEAM_ROW_COLUMNS and len(both) == 3


def test_offline_lookback_bounds_the_local_join_only(tmp_path):
    """DuckDB pushes the lookback into its join (fast); PostgreSQL's template would plan it as a nested loop."""
    from datetime import timedelta

    from feast import FeatureView

    local = fs.build_feast_objects("local", fs.FeastPaths.for_state_dir(tmp_path))
    prod = fs.build_feast_objects("prod", None)
    local_ttls = {o.ttl for o in local.values() if isinstance(o, FeatureView)}
    prod_ttls = {o.ttl for o in prod.values() if isinstance(o, FeatureView)}
    assert local_ttls == {fs.LOCAL_OFFLINE_LOOKBACK} and timedelta(days=365) <= fs.LOCAL_OFFLINE_LOOKBACK
    assert prod_ttls == {timedelta(0)}
