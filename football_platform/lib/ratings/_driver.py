"""Day-by-day driver shared by every sequential rating system and the feature engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from football_platform.lib.ratings._common import daily_groups
from football_platform.lib.seasons import season_start_year


@dataclass(frozen=True)
class MatchRow:
    """One match as the raters see it (results only in ``update``)."""

    div: str
    season: str
    date: pd.Timestamp
    home: str
    away: str
    fthg: int
    ftag: int
    extra: dict[str, float]


def starts_new_season(season_of: dict[str, str], div: str, season: str) -> bool:
    """True for a league's first match of a season later than the one ``season_of`` holds for it."""
    current = season_of.get(div)
    return current is None or season_start_year(season) > season_start_year(current)


class SequentialRater(Protocol):
    """Something that rates teams match by match."""

    def observe(self, div: str, season: str, date: pd.Timestamp) -> None:
        """Called for every match of a day before any prediction of that day (season starts, refits)."""

    def pre_match(self, row: MatchRow) -> dict[str, float]:
        """Values known before kick-off."""

    def update(self, row: MatchRow) -> None:
        """Learn from the result."""


@dataclass(frozen=True)
class RatingResult:
    """Pre-match values aligned to the caller's frame (same index) and the final state for serving."""

    pre: pd.DataFrame
    state: dict[str, Any]


EXTRA_COLUMNS = ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target")


def iter_rows(frame: pd.DataFrame) -> list[MatchRow]:
    """Rows of a prepared (sorted) frame as MatchRow objects; optional stat columns become ``extra``."""
    cols = {c: frame[c].to_numpy() for c in ("div", "season", "match_date", "home_team", "away_team")}
    hg = frame["fthg"].to_numpy() if "fthg" in frame.columns else np.zeros(len(frame))
    ag = frame["ftag"].to_numpy() if "ftag" in frame.columns else np.zeros(len(frame))
    extras = {
        c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in EXTRA_COLUMNS if c in frame.columns
    }
    rows = []
    for i in range(len(frame)):
        rows.append(
            MatchRow(
                div=str(cols["div"][i]),
                season=str(cols["season"][i]),
                date=pd.Timestamp(cols["match_date"][i]),
                home=str(cols["home_team"][i]),
                away=str(cols["away_team"][i]),
                fthg=int(hg[i]),
                ftag=int(ag[i]),
                extra={c: float(v[i]) for c, v in extras.items()},
            )
        )
    return rows


def run_daily(frame: pd.DataFrame, raters: list[Any]) -> list[dict[str, float]]:
    """Feed a prepared frame to ``raters``; returns the merged pre-match dict of each row (frame order).

    All matches of a day are predicted before any result of that day is learnt, so no value for a
    match can depend on a match that might have kicked off later.
    """
    rows = iter_rows(frame)
    out: list[dict[str, float]] = [{} for _ in rows]
    for _, positions in daily_groups(frame):
        for i in positions:
            for rater in raters:
                rater.observe(rows[i].div, rows[i].season, rows[i].date)
        for i in positions:
            merged: dict[str, float] = {}
            for rater in raters:
                merged.update(rater.pre_match(rows[i]))
            out[i] = merged
        for i in positions:
            for rater in raters:
                rater.update(rows[i])
    return out
