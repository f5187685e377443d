"""Predicting fixtures from team states and a fitted model (pure: no Dagster, no I/O).

Used by the ``batch_predictions`` asset (every upcoming fixture at once) and by the API's ``POST /predict``
(one pair at a time). Both go through :func:`features_from_states`, the function training features come
from, so served features cannot drift from trained ones.

A model is anything with ``predict_proba(rows)`` plus ``feature_names_`` and ``classes_`` (CatBoost's
native classifier). Class labels may be ``0/1/2`` or ``'H'/'D'/'A'``: :func:`outcome_order` maps them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from football_platform.lib.features import features_from_states
from football_platform.lib.market import select_long_odds
from football_platform.lib.metrics import outcome_index, rps_scores
from football_platform.lib.seasons import current_season

MODEL_NAME = "football-match-outcome"
PROB_COLUMNS = ["p_home", "p_draw", "p_away"]
FIXTURE_KEY = ["div", "season", "home_team", "away_team"]
_LABELS: dict[str, int] = {"0": 0, "1": 1, "2": 2, "H": 0, "D": 1, "A": 2}
# State fields holding dates: stored as ISO text in Redis/JSON, NaT as "".
_DATE_FIELDS = ("league_season_start", *(f"recent_date_{k}" for k in range(1, 6)))
_TEXT_FIELDS = ("team", "div", "season", "season_matches_key")


class OutcomeModel(Protocol):
    feature_names_: Sequence[str]
    classes_: Sequence[Any]

    def predict_proba(self, rows: Any) -> np.ndarray: ...


def slug(text: str) -> str:
    """``"Nott'm Forest" -> 'nott-m-forest'``: URL-safe, stable."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def match_id(div: str, season: str, home_team: str, away_team: str) -> str:
    """Stable id of a fixture from its natural key (a postponed match keeps its id)."""
    return f"{div}-{season}-{slug(home_team)}-{slug(away_team)}"


def outcome_order(classes: Sequence[Any]) -> list[int]:
    """Positions in ``predict_proba`` output of H, D, A."""
    labels = [_LABELS.get(str(c).strip()) for c in classes]
    if sorted(x for x in labels if x is not None) != [0, 1, 2]:
        raise ValueError(f"model classes {list(classes)!r} are not H/D/A (0/1/2)")
    return [labels.index(k) for k in (0, 1, 2)]


def newest_snapshot(fixtures: pd.DataFrame) -> pd.DataFrame:
    """Rows of the newest fixtures snapshot only (older snapshots list matches long played)."""
    if fixtures.empty or "snapshot_date" not in fixtures.columns:
        return fixtures
    newest = fixtures["snapshot_date"].max()
    return fixtures.loc[fixtures["snapshot_date"] == newest]


def upcoming_fixtures(
    fixtures: pd.DataFrame, matches: pd.DataFrame, as_of: str | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Fixtures not yet played: no result for (div, season, home, away), and on/after ``as_of`` when given.

    The season comes from the kick-off date (seasons start on 1 July). The wall clock is never read.
    """
    cols = ["match_id", "div", "season", "match_date", "kickoff_time", "home_team", "away_team"]
    fx = newest_snapshot(fixtures).copy()
    if fx.empty:
        return pd.DataFrame(columns=cols)
    fx["match_date"] = pd.to_datetime(fx["match_date"])
    fx["season"] = [current_season(d.date()) for d in fx["match_date"]]
    if "kickoff_time" not in fx.columns:
        fx["kickoff_time"] = None
    played = set()
    if not matches.empty:
        played = set(map(tuple, matches[FIXTURE_KEY].astype(str).itertuples(index=False, name=None)))
    keep = [tuple(k) not in played for k in fx[FIXTURE_KEY].astype(str).itertuples(index=False, name=None)]
    fx = fx.loc[keep]
    if as_of is not None:
        fx = fx.loc[fx["match_date"] >= pd.Timestamp(as_of).tz_localize(None).normalize()]
    fx["match_id"] = [match_id(*k) for k in fx[FIXTURE_KEY].itertuples(index=False, name=None)]
    return fx[cols].sort_values(["match_date", "div", "home_team"]).reset_index(drop=True)


def fixture_odds(odds: pd.DataFrame) -> pd.DataFrame:
    """Pre-match prices per fixture (``div, home_team, away_team, odds_pre_*``) from ``raw.fixture_odds`` rows."""
    key = ["div", "home_team", "away_team"]
    if odds.empty:
        return pd.DataFrame(columns=[*key, "odds_pre_h", "odds_pre_d", "odds_pre_a", "odds_pre_over25",
                                     "odds_pre_under25"])
    odds = newest_snapshot(odds)
    wide = select_long_odds(odds[odds["period"] == "pre"], key=key)
    return wide[[c for c in wide.columns if not c.startswith("odds_close")]]


def state_to_record(state: Mapping[str, Any]) -> dict[str, str]:
    """A team state as flat text fields (a Redis hash / JSON object); NaN and NaT become ``""``."""
    out: dict[str, str] = {}
    for key, value in state.items():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
            out[key] = ""
        elif isinstance(value, pd.Timestamp | np.datetime64):
            ts = pd.Timestamp(value)
            out[key] = "" if pd.isna(ts) else ts.isoformat()
        else:
            out[key] = str(value)
    return out


def state_from_record(record: Mapping[Any, Any]) -> dict[str, Any]:
    """Inverse of :func:`state_to_record` (accepts the ``bytes`` keys/values redis-py returns)."""
    state: dict[str, Any] = {}
    for raw_key, raw_value in record.items():
        key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        value = raw_value.decode() if isinstance(raw_value, bytes) else raw_value
        if key in _DATE_FIELDS:
            state[key] = pd.Timestamp(value) if value not in ("", None) else pd.NaT
        elif key in _TEXT_FIELDS or key.startswith("_"):
            state[key] = value
        else:
            try:
                state[key] = float(value) if value not in ("", None) else float("nan")
            except ValueError:
                state[key] = value
    if "season_matches" in state and state["season_matches"] == state["season_matches"]:
        state["season_matches"] = int(state["season_matches"])
    return state


def feature_row(features: Mapping[str, Any], names: Sequence[str]) -> list[Any]:
    """One model row in the model's own column order (``div`` stays text: CatBoost's categorical)."""
    row: list[Any] = []
    for name in names:
        value = features.get(name)
        if name == "div":
            row.append(str(value))
        else:
            row.append(float("nan") if value is None else float(value))
    return row


def probabilities(model: OutcomeModel, rows: list[list[Any]], order: Sequence[int] | None = None) -> np.ndarray:
    """(n, 3) H, D, A probabilities."""
    order = list(order) if order is not None else outcome_order(model.classes_)
    raw = np.asarray(model.predict_proba(rows), dtype=float)
    return raw[:, order]


def predict_pair(
    model: OutcomeModel,
    home_state: Mapping[str, Any],
    away_state: Mapping[str, Any],
    kickoff: pd.Timestamp | str,
    div: str | None = None,
    season: str | None = None,
    odds: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Probabilities of one fixture (H/D/A and over 2.5 goals from the Dixon-Coles feature)."""
    feats = features_from_states(home_state, away_state, kickoff, div=div, season=season, odds=odds)
    p = probabilities(model, [feature_row(feats, model.feature_names_)])[0]
    return {"p_home": float(p[0]), "p_draw": float(p[1]), "p_away": float(p[2]),
            "p_over25": float(feats.get("match_dc_p_over25", float("nan")))}


def predict_fixtures(
    fixtures: pd.DataFrame,
    states: Mapping[str, Mapping[str, Any]],
    model: OutcomeModel,
    odds: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predict every fixture whose two teams have a state.

    Returns ``(predictions, skipped)``: predictions carry the fixture columns plus ``p_home, p_draw,
    p_away, p_over25``; ``skipped`` lists fixtures with a team without state, and which team.
    """
    prices: dict[tuple[str, str, str], dict[str, float]] = {}
    if odds is not None and not odds.empty:
        for rec in odds.to_dict("records"):
            prices[(rec["div"], rec["home_team"], rec["away_team"])] = {
                k: v for k, v in rec.items() if k.startswith("odds_pre")
            }
    feats, kept, skipped = [], [], []
    for rec in fixtures.to_dict("records"):
        missing = [t for t in (rec["home_team"], rec["away_team"]) if t not in states]
        if missing:
            skipped.append({**rec, "reason": f"no team state for {', '.join(missing)}"})
            continue
        f = features_from_states(states[rec["home_team"]], states[rec["away_team"]], rec["match_date"],
                                 div=rec["div"], season=rec["season"],
                                 odds=prices.get((rec["div"], rec["home_team"], rec["away_team"])))
        feats.append(f)
        kept.append(rec)
    out = pd.DataFrame(kept, columns=list(fixtures.columns))
    if kept:
        p = probabilities(model, [feature_row(f, model.feature_names_) for f in feats])
        out[PROB_COLUMNS] = p
        out["p_over25"] = [float(f.get("match_dc_p_over25", float("nan"))) for f in feats]
    else:
        for col in [*PROB_COLUMNS, "p_over25"]:
            out[col] = pd.Series(dtype=float)
    return out.reset_index(drop=True), pd.DataFrame(skipped)


def score_predictions(predictions: pd.DataFrame, results: pd.DataFrame, closing: pd.DataFrame | None = None
                      ) -> pd.DataFrame:
    """Settled predictions scored against the result and, where known, the closing line.

    ``predictions``: one row per match (``div, season, home_team, away_team, p_*`` + any other columns);
    ``results``: ``div, season, home_team, away_team, match_date, fthg, ftag``; ``closing``: the same key
    with ``odds_close_h/d/a``. Returns per match ``match_date, div, rps_model, rps_closing`` (NaN without
    closing odds), the closing-line probabilities and ``outcome`` (H/D/A).
    """
    res = results[[*FIXTURE_KEY, "match_date", "fthg", "ftag"]]
    pred = predictions.drop(columns=[c for c in ("match_date",) if c in predictions.columns])
    settled = pred.merge(res, on=FIXTURE_KEY, how="inner")
    if settled.empty:  # nothing settled yet: the same columns as below, no rows
        kept = [c for c in settled.columns if c not in ("fthg", "ftag")]
        return settled[kept].reindex(columns=[*kept, "outcome", "rps_model", "rps_closing",
                                              "close_p_home", "close_p_draw", "close_p_away"])
    y = outcome_index(settled["fthg"].to_numpy(), settled["ftag"].to_numpy())
    settled["outcome"] = np.array(["H", "D", "A"])[y]
    settled["rps_model"] = rps_scores(settled[PROB_COLUMNS].to_numpy(dtype=float), y)
    close = np.full((len(settled), 3), np.nan)
    if closing is not None and not closing.empty:
        merged = settled[FIXTURE_KEY].merge(closing, on=FIXTURE_KEY, how="left")
        close = merged[["odds_close_h", "odds_close_d", "odds_close_a"]].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / close
        close_p = inv / inv.sum(axis=1, keepdims=True)  # margin removed by normalising 1/odds
    ok = np.isfinite(close_p).all(axis=1)
    rps_close = np.full(len(settled), np.nan)
    if ok.any():
        rps_close[ok] = rps_scores(close_p[ok], y[ok])
    settled["rps_closing"] = rps_close
    settled["close_p_home"], settled["close_p_draw"], settled["close_p_away"] = close_p.T
    settled["match_date"] = pd.to_datetime(settled["match_date"])
    return settled.drop(columns=["fthg", "ftag"]).sort_values(["match_date", "div", "home_team"]).reset_index(drop=True)
