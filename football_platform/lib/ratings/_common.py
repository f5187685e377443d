"""Shared plumbing of the rating systems: input validation, ordering, league membership and newcomer priors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from football_platform.lib.seasons import season_code, season_start_year

REQUIRED_COLUMNS = ("div", "season", "match_date", "home_team", "away_team", "fthg", "ftag")

TeamSets = Mapping[tuple[str, str], frozenset[str]]


def prepare_matches(matches: pd.DataFrame, require_goals: bool = True) -> pd.DataFrame:
    """Validate the match contract and return a copy sorted by date with a stable tie-break.

    Sorting is by (match_date, div, home_team, away_team), so the order never depends on the order of
    the input rows. The original index is kept so results can be aligned back to the caller's frame.
    """
    required = REQUIRED_COLUMNS if require_goals else REQUIRED_COLUMNS[:5]
    missing = [c for c in required if c not in matches.columns]
    if missing:
        raise ValueError(f"matches frame is missing column(s) {missing}; contract: {list(REQUIRED_COLUMNS)}")
    frame = matches.copy()
    dates = pd.to_datetime(frame["match_date"])
    if dates.dt.tz is not None:  # calendar dates matter here, not instants
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    frame["match_date"] = dates.dt.normalize().astype("datetime64[ns]")
    frame["season"] = frame["season"].astype(str)
    bad = frame["season"].str.len() != 4
    if bad.any():
        row = frame.index[bad][0]
        raise ValueError(f"matches row {row!r}: season must be a 4-character code like '2324', got {frame.at[row, 'season']!r}")
    if require_goals:
        for col in ("fthg", "ftag"):
            if frame[col].isna().any():
                row = frame.index[frame[col].isna()][0]
                raise ValueError(f"matches row {row!r}: column {col!r} is missing (results are required here)")
    if require_goals:
        frame["fthg"] = frame["fthg"].astype(int)
        frame["ftag"] = frame["ftag"].astype(int)
    for col in ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target"):
        if col in frame.columns:  # nullable integers from the parser -> float with NaN
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    if frame["match_date"].isna().any():
        row = frame.index[frame["match_date"].isna()][0]
        raise ValueError(f"matches row {row!r}: match_date is missing")
    return frame.sort_values(["match_date", "div", "home_team", "away_team"], kind="mergesort")


def season_team_sets(matches: pd.DataFrame, extra: pd.DataFrame | None = None) -> dict[tuple[str, str], frozenset[str]]:
    """Teams of each (div, season). Pre-season knowledge (fixture lists), not results, so no leakage."""
    frames = [matches] if extra is None else [matches, extra]
    out: dict[tuple[str, str], set[str]] = {}
    for frame in frames:
        for (div, season), grp in frame.groupby(["div", "season"], sort=False):
            members = out.setdefault((str(div), str(season)), set())
            members.update(grp["home_team"])
            members.update(grp["away_team"])
    return {k: frozenset(v) for k, v in out.items()}


def previous_season(season: str) -> str:
    return season_code(season_start_year(season) - 1)


def _league_of(team: str, season: str, team_sets: TeamSets, exclude: str) -> str | None:
    for (div, s), teams in team_sets.items():
        if s == season and div != exclude and team in teams:
            return div
    return None


def newcomer_priors(
    div: str,
    season: str,
    team_sets: TeamSets,
    last_in_league: Mapping[tuple[str, str], np.ndarray],
    default: np.ndarray,
    weight: float,
) -> dict[str, np.ndarray]:
    """Prior rating vector for each team of (div, season) that was not in div the season before.

    Promoted teams play like the teams they replace, so the base prior of a newcomer arriving from
    league X is the mean final rating (in div) of the teams that left div for X (E0 promoted from E1 <-
    E0 teams relegated to E1; E1 relegated from E0 <- E1 teams promoted to E0); newcomers from outside the
    data (lower divisions) take the mean of the leavers that went outside the data. A newcomer's own
    strength relative to its cohort in the old league is kept with ``weight`` (0 = ignore, 1 = full), so
    a dominant champion starts above the play-off winner. Without any leaver (first season of the data,
    league expansion) the base is the mean of last season's members, else ``default``.
    """
    teams = team_sets.get((div, season), frozenset())
    prev = previous_season(season)
    prev_members = team_sets.get((div, prev))
    if prev_members is None:
        # First season of this league in the data: nobody has a league history yet.
        return {t: np.array(default, dtype=float) for t in teams if (t, div) not in last_in_league}
    newcomers = sorted(teams - prev_members)
    if not newcomers:
        return {}
    leavers = sorted(prev_members - teams)

    def mean_of(names: Iterable[str]) -> np.ndarray | None:
        vals = [last_in_league[(t, div)] for t in names if (t, div) in last_in_league]
        return np.mean(vals, axis=0) if vals else None

    dest = {t: _league_of(t, season, team_sets, div) for t in leavers}
    origin = {t: _league_of(t, prev, team_sets, div) for t in newcomers}
    fallback = mean_of(leavers)
    if fallback is None:
        fallback = mean_of(prev_members)
    if fallback is None:
        fallback = np.array(default, dtype=float)
    priors: dict[str, np.ndarray] = {}
    for src in sorted({o for o in origin.values() if o is not None}) + [None]:  # type: ignore[operator]
        cohort = [t for t in newcomers if origin[t] == src]
        if not cohort:
            continue
        base = mean_of([t for t in leavers if dest[t] == src])
        if base is None:
            base = mean_of([t for t in leavers if dest[t] is None])
        if base is None:
            base = fallback
        own = {t: last_in_league.get((t, src)) for t in cohort} if src is not None else {}
        known = [v for v in own.values() if v is not None]
        centre = np.mean(known, axis=0) if len(known) > 1 else None
        for t in cohort:
            rel = weight * (own[t] - centre) if centre is not None and own.get(t) is not None else 0.0
            priors[t] = np.asarray(base + rel, dtype=float)
    return priors


def daily_groups(frame: pd.DataFrame) -> Iterable[tuple[pd.Timestamp, np.ndarray]]:
    """Positions of the sorted frame grouped by match date (one block per day).

    Everything played on one day is predicted before any of that day's results is used: without
    kick-off times an earlier row of the same day may well have kicked off later.
    """
    dates = frame["match_date"].to_numpy()
    if len(dates) == 0:
        return []
    cuts = np.flatnonzero(dates[1:] != dates[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [len(dates)]])
    return [(pd.Timestamp(dates[a]), np.arange(a, b)) for a, b in zip(starts, stops, strict=True)]
