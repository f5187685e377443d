"""Reading the modelling frames from the warehouse (pure pandas/SQL, no Dagster).

``load_matches`` rebuilds the match contract frame (results + the chosen ``odds_*`` columns) from
``raw.matches`` / ``raw.odds``; ``load_training_set`` reads ``analytics.training_set``. Team names stay
the site's own spelling, as the backtest output contract requires.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from football_platform.contracts import CLOSING_PROB_COLUMNS, MATCH_KEY, TRAINING_SET_TABLE
from football_platform.lib.backtest import closing_probs
from football_platform.lib.features import KEY_COLUMNS, MARKET_AWARE_FEATURES
from football_platform.lib.market import select_long_odds
from football_platform.lib.seasons import season_start_year
from football_platform.lib.warehouse import Warehouse

_STATS = ["home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target"]


def _in_list(column: str, values: Sequence[str]) -> tuple[str, list[str]]:
    return f'"{column}" IN ({", ".join("?" for _ in values)})', list(values)


def load_matches(warehouse: Warehouse, leagues: Sequence[str], last_season: str | None = None) -> pd.DataFrame:
    """Every finished match of ``leagues`` up to ``last_season`` with results, shots and contract odds columns."""
    if not leagues:
        raise ValueError("load_matches: no leagues given")
    where, params = _in_list("div", leagues)
    cols = ", ".join(f'"{c}"' for c in ["div", "season", "match_date", "home_team", "away_team", "fthg", "ftag",
                                         *_STATS])
    matches = warehouse.query_df(f"SELECT {cols} FROM raw.matches WHERE {where}", params)
    odds = warehouse.query_df(
        'SELECT "div", "season", "home_team", "away_team", "bookmaker", "market", "period", "selection", "price" '
        f"FROM raw.odds WHERE {where} AND \"market\" IN ('1x2', 'ou25')",
        params,
    )
    if last_season is not None:
        last = season_start_year(last_season)
        matches = matches[matches["season"].map(season_start_year) <= last]
    if matches.empty:
        raise ValueError(f"no matches of {list(leagues)} in raw.matches (warehouse {warehouse.describe()})")
    chosen = select_long_odds(odds)
    out = matches.merge(chosen, on=MATCH_KEY, how="left")
    out["match_date"] = pd.to_datetime(out["match_date"])
    for col in ("fthg", "ftag"):
        out[col] = out[col].astype(int)
    return out.sort_values(["match_date", "div", "home_team", "away_team"], kind="mergesort").reset_index(drop=True)


def training_frame(matches: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The ``analytics.training_set`` layout from a match frame and its features (tests, backfills)."""
    frame = features.copy()
    frame["fthg"] = matches["fthg"].to_numpy()
    frame["ftag"] = matches["ftag"].to_numpy()
    frame["result"] = np.select([frame["fthg"] > frame["ftag"], frame["fthg"] == frame["ftag"]], ["H", "D"], "A")
    close = closing_probs(matches)  # the backtest's own closing-line choice
    for j, col in enumerate(CLOSING_PROB_COLUMNS):
        frame[col] = close[:, j]
    return frame[[*KEY_COLUMNS, "result", "fthg", "ftag", *MARKET_AWARE_FEATURES[1:], *CLOSING_PROB_COLUMNS]]


def load_training_set(warehouse: Warehouse) -> pd.DataFrame:
    """``analytics.training_set`` sorted by date, with a clear error when it is missing or incomplete."""
    if not warehouse.table_exists("analytics", "training_set"):
        raise ValueError(f"{TRAINING_SET_TABLE} does not exist in {warehouse.describe()}: materialise training_set")
    frame = warehouse.query_df(f"SELECT * FROM {TRAINING_SET_TABLE}")
    required = [*KEY_COLUMNS, "fthg", "ftag", *MARKET_AWARE_FEATURES, *CLOSING_PROB_COLUMNS]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{TRAINING_SET_TABLE} lacks column(s) {missing[:8]}")
    if frame.empty:
        raise ValueError(f"{TRAINING_SET_TABLE} is empty")
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    if frame["match_date"].dt.tz is not None:
        frame["match_date"] = frame["match_date"].dt.tz_convert("UTC").dt.tz_localize(None)
    frame["season"] = frame["season"].astype(str)
    for col in ("fthg", "ftag"):
        frame[col] = frame[col].astype(int)
    return frame.sort_values(["match_date", "div", "home_team", "away_team"], kind="mergesort").reset_index(drop=True)
