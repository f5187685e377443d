"""The rows behind the feature views, shaped in pandas (pure: no Feast, no I/O).

Two kinds of rows live in the same per-team feature views, told apart by their timestamp:

* **match rows** (``analytics.team_match_features``): one per team per match, stamped with the kick-off
  (UTC). They hold the team's *side* features for that match exactly as :func:`build_match_features`
  computed them (``elo``, ``pi_venue``, ``dc_xg``, ``rest_days``...). A point-in-time join at a kick-off
  returns the row of that very match, whose features were computed before any result of its day.
* **state rows** (``analytics.team_state``): one per team, stamped the day after the last match (or the
  configured as-of date). They hold the team's *state* (:meth:`FeatureEngine.team_state`): everything
  :func:`features_from_states` needs for an upcoming fixture. The online store serves these (they are the
  newest row of every team); :func:`state_from_online` turns an online row back into a state mapping.

A field that only one kind of row defines is null in the other (``rest_days`` depends on the fixture's date,
so a state row cannot hold it; ``recent_date_1`` is state-only). The Feast objects over these rows are in
:mod:`football_platform.lib.feature_store`, the warehouse tables that hold them in
:mod:`football_platform.lib.feature_tables`, the API's reader of the online layout in ``serving/online_layout.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from football_platform.lib.features import FORM_STATS, FUNDAMENTAL_FEATURES, KEY_COLUMNS, N_RECENT_DATES, FeatureParams

ENTITY = "team"
RATINGS_VIEW = "team_ratings"
FORM_VIEW = "team_form"
SCHEDULE_VIEW = "team_schedule"
DIFF_VIEW = "match_diffs"
SIDES = ("home", "away")
UK_TZ = "Europe/London"
DEFAULT_KICKOFF = "15:00"  # football-data has no kick-off times before 2019/20: the traditional Saturday slot
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


OU_BOOKMAKERS = ("PS", "Avg", "BbAv", "B365")  # preference order for the pre-match over/under 2.5 price


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
