"""Predicting fixtures from team states and a fitted model (pure: no Dagster, no I/O).

Used by the ``batch_predictions`` asset (every upcoming fixture at once) and by the API's ``POST /predict``
(one pair at a time). Both turn a team's feature-store row into a state with
:func:`~football_platform.lib.feature_rows.state_from_online` and a pair of states into a model row with
:func:`model_input` (:func:`features_from_states`, the function training features come from, then
:func:`feature_row`), so served features cannot drift from trained ones.

A model is anything with ``predict_proba(rows)`` plus ``feature_names_`` and ``classes_`` (CatBoost's
native classifier). Class labels may be ``0/1/2`` or ``'H'/'D'/'A'``: :func:`outcome_order` maps them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from football_platform.contracts import MATCH_KEY, PROB_COLUMNS
from football_platform.lib.features import features_from_states
from football_platform.lib.market import select_long_odds
from football_platform.lib.metrics import outcome_index, rps_scores
from football_platform.lib.seasons import current_season

FIXTURE_KEY = MATCH_KEY  # a fixture is keyed like the match it becomes
# Columns a batch adds to its fixtures (an empty batch still has them).
PREDICTION_EXTRA_COLUMNS = [*PROB_COLUMNS, "p_over25", "model_name", "model_version", "features_timestamp",
                            "generated_at"]
_SNAPSHOT_NAME = re.compile(r"fixtures/(\d{4}-\d{2}-\d{2})/")
_LABELS: dict[str, int] = {"0": 0, "1": 1, "2": 2, "H": 0, "D": 1, "A": 2}


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


def snapshot_of(name: str | None) -> str | None:
    """``'fixtures/2026-01-30/fixtures.csv' -> '2026-01-30'`` (None for any other name)."""
    found = _SNAPSHOT_NAME.match(str(name or ""))
    return found.group(1) if found else None


def newest_snapshot(fixtures: pd.DataFrame, latest: str | None = None) -> pd.DataFrame:
    """Rows of the newest fixtures snapshot only (older snapshots list matches long played).

    ``latest``: the newest snapshot ingested at all (ISO date). When it is newer than every row's, that snapshot
    listed no fixture (the off-season's header-only file): nothing is upcoming, however recent older lists are.
    """
    if fixtures.empty or "snapshot_date" not in fixtures.columns:
        return fixtures
    newest = fixtures["snapshot_date"].max()
    if latest is not None and pd.Timestamp(latest) > pd.Timestamp(newest):
        return fixtures.iloc[0:0]
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


def model_input(
    home_state: Mapping[str, Any],
    away_state: Mapping[str, Any],
    kickoff: pd.Timestamp | str,
    names: Sequence[str],
    div: str | None = None,
    season: str | None = None,
    odds: Mapping[str, float] | None = None,
) -> tuple[list[Any], float | None]:
    """Two team states -> ``(model row in the model's column order, P(over 2.5) from Dixon-Coles or None)``.

    The one path from team rows to a model row, for batch predictions and ``POST /predict`` alike.
    """
    feats = features_from_states(home_state, away_state, kickoff, div=div, season=season, odds=odds)
    over = feats.get("match_dc_p_over25")
    return feature_row(feats, names), (None if over is None or over != over else float(over))


def probabilities(model: OutcomeModel, rows: list[list[Any]], order: Sequence[int] | None = None) -> np.ndarray:
    """(n, 3) H, D, A probabilities of model rows (:func:`feature_row`)."""
    order = list(order) if order is not None else outcome_order(model.classes_)
    # An object array (floats and the text ``div``): CatBoost reads it about twice as fast as a list of lists.
    raw = np.asarray(model.predict_proba(np.array(rows, dtype=object)), dtype=float)
    return raw[:, order]


def predict_pair(
    model: OutcomeModel,
    home_state: Mapping[str, Any],
    away_state: Mapping[str, Any],
    kickoff: pd.Timestamp | str,
    div: str | None = None,
    season: str | None = None,
    odds: Mapping[str, float] | None = None,
) -> dict[str, float | None]:
    """Probabilities of one fixture (H/D/A and over 2.5 goals from the Dixon-Coles feature)."""
    row, over = model_input(home_state, away_state, kickoff, model.feature_names_, div=div, season=season, odds=odds)
    p = probabilities(model, [row])[0]
    return {"p_home": float(p[0]), "p_draw": float(p[1]), "p_away": float(p[2]), "p_over25": over}


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
    rows, overs, kept, skipped = [], [], [], []
    for rec in fixtures.to_dict("records"):
        missing = [t for t in (rec["home_team"], rec["away_team"]) if t not in states]
        if missing:
            skipped.append({**rec, "reason": f"no team state for {', '.join(missing)}"})
            continue
        row, over = model_input(states[rec["home_team"]], states[rec["away_team"]], rec["match_date"],
                                model.feature_names_, div=rec["div"], season=rec["season"],
                                odds=prices.get((rec["div"], rec["home_team"], rec["away_team"])))
        rows.append(row)
        overs.append(float("nan") if over is None else over)
        kept.append(rec)
    out = pd.DataFrame(kept, columns=list(fixtures.columns))
    if kept:
        out[PROB_COLUMNS] = probabilities(model, rows)
        out["p_over25"] = overs
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
