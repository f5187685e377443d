"""Pre-match features of every match, and the same features from per-team state for serving.

One engine walks the matches day by day (Elo, pi-ratings, Dixon-Coles refits, form, calendar) and,
for each match, builds the features from the two teams' *current state* with
:func:`features_from_states` before learning from any result of that day. Serving calls the very same
function on the state returned by :func:`team_state_after`, so the training features and the features
of an upcoming fixture cannot drift apart.

Column naming: ``home_*`` / ``away_*`` describe one side, ``diff_*`` is home minus away, ``match_*``
belongs to the fixture (league home advantage, model probabilities, market). The key is
``(div, season, match_date, home_team, away_team)``; there are no results in the output.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from football_platform.lib.market import implied_probabilities, overround, valid_triples
from football_platform.lib.ratings._common import daily_groups, prepare_matches, season_team_sets
from football_platform.lib.ratings._driver import MatchRow, iter_rows
from football_platform.lib.ratings.dixon_coles import DixonColesParams, DixonColesRater, outcome_arrays
from football_platform.lib.ratings.elo import EloParams, EloRater, expected_home_score
from football_platform.lib.ratings.pi import PiParams, PiRater, expected_goal_difference
from football_platform.lib.seasons import season_start_year

KEY_COLUMNS = ["div", "season", "match_date", "home_team", "away_team"]
ODDS_COLUMNS = ["odds_pre_h", "odds_pre_d", "odds_pre_a", "odds_pre_over25", "odds_pre_under25"]
FORM_STATS = ("points", "gd", "gf", "ga", "shots_for", "shots_against", "sot_for", "sot_against")
N_RECENT_DATES = 5


@dataclass(frozen=True)
class FeatureParams:
    """Settings of every component (defaults = tuned values, see the component docstrings)."""

    elo: EloParams = field(default_factory=EloParams)
    pi: PiParams = field(default_factory=PiParams)
    dc: DixonColesParams = field(default_factory=DixonColesParams)
    form_windows: tuple[int, ...] = (5, 10)
    rest_cap_days: int = 60


def _side_columns(windows: tuple[int, ...]) -> list[str]:
    cols = ["elo", "pi_home", "pi_away", "pi_venue", "dc_attack", "dc_defence", "dc_xg"]
    cols += [f"form{w}_{s}" for w in windows for s in FORM_STATS]
    cols += ["rest_days", "matches_14d", "season_matches"]
    return cols


MATCH_COLUMNS = [
    "match_elo_hfa", "match_elo_diff", "match_elo_exp_home", "match_pi_exp_gd",
    "match_dc_home_adv", "match_dc_rho", "match_dc_p_home", "match_dc_p_draw", "match_dc_p_away",
    "match_dc_p_over25", "match_season_day",
]
MARKET_COLUMNS = [
    "match_market_p_home", "match_market_p_draw", "match_market_p_away", "match_market_overround",
    "match_market_p_over25",
]


def feature_columns(params: FeatureParams | None = None, market: bool = False) -> list[str]:
    """Model inputs: ``div`` (categorical) + side, diff and match columns (+ market columns)."""
    windows = (params or FeatureParams()).form_windows
    side = _side_columns(windows)
    cols = ["div"] + [f"{p}_{c}" for c in side for p in ("home", "away", "diff")] + MATCH_COLUMNS
    return cols + MARKET_COLUMNS if market else cols


FUNDAMENTAL_FEATURES = feature_columns()
MARKET_AWARE_FEATURES = feature_columns(market=True)


@dataclass
class _FormTracker:
    """Recent results, dates and season counters per team."""

    max_window: int
    recent: dict[str, deque] = field(default_factory=dict)
    season_key: dict[str, tuple[str, str]] = field(default_factory=dict)
    season_count: dict[str, int] = field(default_factory=dict)

    def add(self, team: str, key: tuple[str, str], date: pd.Timestamp, gf: int, ga: int,
            shots_for: float, shots_against: float, sot_for: float, sot_against: float) -> None:
        points = 3.0 if gf > ga else 1.0 if gf == ga else 0.0
        q = self.recent.setdefault(team, deque(maxlen=max(self.max_window, N_RECENT_DATES)))
        q.append((date, points, gf - ga, gf, ga, shots_for, shots_against, sot_for, sot_against))
        if self.season_key.get(team) != key:
            self.season_key[team] = key
            self.season_count[team] = 0
        self.season_count[team] += 1


@dataclass
class FeatureEngine:
    """Day-by-day state of every team (see module docstring)."""

    params: FeatureParams
    team_sets: dict[tuple[str, str], frozenset[str]]
    elo: EloRater = field(init=False)
    pi: PiRater = field(init=False)
    dc: DixonColesRater = field(init=False)
    form: _FormTracker = field(init=False)
    season_of: dict[str, str] = field(default_factory=dict)
    season_start: dict[str, pd.Timestamp] = field(default_factory=dict)
    team_div: dict[str, str] = field(default_factory=dict)
    team_season: dict[str, str] = field(default_factory=dict)
    last_date: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        self.elo = EloRater(self.params.elo, self.team_sets)
        self.pi = PiRater(self.params.pi, self.team_sets)
        self.dc = DixonColesRater(self.params.dc, self.team_sets)
        self.form = _FormTracker(max(self.params.form_windows))

    def set_team_sets(self, team_sets: dict[tuple[str, str], frozenset[str]]) -> None:
        """New league memberships for the days still to come (a resumed checkpoint: see lib/state_checkpoint.py)."""
        self.team_sets = team_sets
        for rater in (self.elo, self.pi, self.dc):
            rater.team_sets = team_sets

    def observe(self, div: str, season: str, date: pd.Timestamp) -> None:
        current = self.season_of.get(div)
        if current is None or season_start_year(season) > season_start_year(current):
            self.season_of[div] = season
            self.season_start[div] = pd.Timestamp(date)
            for team in self.team_sets.get((div, season), ()):
                self.team_div[team] = div
                self.team_season[team] = season
        for rater in (self.elo, self.pi, self.dc):
            rater.observe(div, season, date)

    def team_state(self, team: str, div: str | None = None) -> dict[str, Any]:
        """Everything needed to build a side's features, in league ``div`` (default: the team's league)."""
        div = div or self.team_div.get(team, "")
        elo = self.elo.rating(team)
        pi = self.pi.rating(team)
        att, dfn = self.dc.team_params(div, team)
        c, h, rho = self.dc.league_params(div)
        state: dict[str, Any] = {
            "team": team,
            "div": div,
            "season": self.team_season.get(team, self.season_of.get(div, "")),
            "elo": elo,
            "elo_hfa": self.elo.hfa.get(div, self.params.elo.hfa_initial),
            "pi_home": float(pi[0]),
            "pi_away": float(pi[1]),
            "dc_attack": att,
            "dc_defence": dfn,
            "dc_intercept": c,
            "dc_home_adv": h,
            "dc_rho": rho,
            "league_season_start": self.season_start.get(div, pd.NaT),
        }
        recent = list(self.form.recent.get(team, ()))
        for w in self.params.form_windows:
            last = recent[-w:]
            for j, stat in enumerate(FORM_STATS, start=1):
                total, count = 0.0, 0
                for r in last:
                    v = r[j]
                    if v == v:  # skips NaN (missing shots) without a function call per value
                        total += v
                        count += 1
                state[f"form{w}_{stat}"] = total / count if count else float("nan")
        dates = [r[0] for r in reversed(recent)][:N_RECENT_DATES]
        for k in range(N_RECENT_DATES):
            state[f"recent_date_{k + 1}"] = dates[k] if k < len(dates) else pd.NaT
        key = self.form.season_key.get(team)
        state["season_matches_key"] = f"{key[0]}:{key[1]}" if key else ""
        state["season_matches"] = self.form.season_count.get(team, 0)
        return state

    def update(self, row: MatchRow) -> None:
        for rater in (self.elo, self.pi, self.dc):
            rater.update(row)
        key = (row.div, row.season)
        ex = row.extra
        nan = float("nan")
        self.form.add(row.home, key, row.date, row.fthg, row.ftag, ex.get("home_shots", nan),
                      ex.get("away_shots", nan), ex.get("home_shots_on_target", nan), ex.get("away_shots_on_target", nan))
        self.form.add(row.away, key, row.date, row.ftag, row.fthg, ex.get("away_shots", nan),
                      ex.get("home_shots", nan), ex.get("away_shots_on_target", nan), ex.get("home_shots_on_target", nan))
        self.team_div[row.home] = self.team_div[row.away] = row.div
        self.team_season[row.home] = self.team_season[row.away] = row.season
        self.last_date = row.date


def _side(state: Mapping[str, Any], prefix: str, kickoff: pd.Timestamp, div: str, season: str,
          windows: tuple[int, ...], rest_cap: int) -> dict[str, float]:
    out: dict[str, float] = {
        f"{prefix}_elo": float(state["elo"]),
        f"{prefix}_pi_home": float(state["pi_home"]),
        f"{prefix}_pi_away": float(state["pi_away"]),
        f"{prefix}_pi_venue": float(state["pi_home"] if prefix == "home" else state["pi_away"]),
        f"{prefix}_dc_attack": float(state["dc_attack"]),
        f"{prefix}_dc_defence": float(state["dc_defence"]),
    }
    for w in windows:
        for stat in FORM_STATS:
            out[f"{prefix}_form{w}_{stat}"] = float(state.get(f"form{w}_{stat}", float("nan")))
    dates = [pd.Timestamp(state.get(f"recent_date_{k + 1}")) for k in range(N_RECENT_DATES)]
    dates = [d for d in dates if not pd.isna(d) and d < kickoff]
    out[f"{prefix}_rest_days"] = float(min((kickoff - dates[0]).days, rest_cap)) if dates else float(rest_cap)
    out[f"{prefix}_matches_14d"] = float(sum(1 for d in dates if (kickoff - d).days <= 14))
    same = state.get("season_matches_key") == f"{div}:{season}"
    out[f"{prefix}_season_matches"] = float(state.get("season_matches", 0)) if same else 0.0
    return out


def _pair_row(home_state: Mapping[str, Any], away_state: Mapping[str, Any], kickoff: pd.Timestamp,
              div: str, season: str, params: FeatureParams) -> dict[str, Any]:
    """Scalar features of one fixture from the two states (league values from the home side's state)."""
    kickoff = pd.Timestamp(kickoff).normalize()
    row: dict[str, Any] = {}
    row.update(_side(home_state, "home", kickoff, div, season, params.form_windows, params.rest_cap_days))
    row.update(_side(away_state, "away", kickoff, div, season, params.form_windows, params.rest_cap_days))
    hfa = float(home_state["elo_hfa"])
    row["match_elo_hfa"] = hfa
    row["match_elo_diff"] = row["home_elo"] + hfa - row["away_elo"]
    row["match_elo_exp_home"] = expected_home_score(row["home_elo"], row["away_elo"], hfa)
    b, c = params.pi.b, params.pi.c
    row["match_pi_exp_gd"] = expected_goal_difference(row["home_pi_home"], b, c) - expected_goal_difference(
        row["away_pi_away"], b, c
    )
    ic, home_adv, rho = float(home_state["dc_intercept"]), float(home_state["dc_home_adv"]), float(home_state["dc_rho"])
    row["home_dc_xg"] = math.exp(ic + home_adv + row["home_dc_attack"] - row["away_dc_defence"])
    row["away_dc_xg"] = math.exp(ic + row["away_dc_attack"] - row["home_dc_defence"])
    row["match_dc_home_adv"] = home_adv
    row["match_dc_rho"] = rho
    start = home_state.get("league_season_start")
    same_season = home_state.get("season") == season and not pd.isna(start)
    row["match_season_day"] = float((kickoff - pd.Timestamp(start)).days) if same_season else 0.0
    return row


def _finish_columns(values: Any, n: int, params: FeatureParams) -> dict[str, np.ndarray]:
    """Columns computed from the pair row, on numpy arrays (shared by the frame path and the one-fixture path):
    diffs, DC outcome probabilities, market probabilities. ``values(names)`` returns an ``(n, len(names))`` float
    array (NaN for an absent name)."""
    out: dict[str, np.ndarray] = {}
    side = _side_columns(params.form_windows)
    diff = values([f"home_{c}" for c in side]) - values([f"away_{c}" for c in side])
    for j, col in enumerate(side):
        out[f"diff_{col}"] = diff[:, j]
    dc = values(["home_dc_xg", "away_dc_xg", "match_dc_rho"])
    probs, over = outcome_arrays(dc[:, 0], dc[:, 1], dc[:, 2], params.dc.max_goals)
    out["match_dc_p_home"], out["match_dc_p_draw"], out["match_dc_p_away"] = probs[:, 0], probs[:, 1], probs[:, 2]
    out["match_dc_p_over25"] = over
    odds = values(ODDS_COLUMNS)
    if np.isnan(odds).all():  # no prices at all (the usual API request): every market column is NaN
        for col in MARKET_COLUMNS:
            out[col] = np.full(n, np.nan)
        return out
    triple = odds[:, :3]
    ok = valid_triples(triple)
    p = implied_probabilities(triple)
    p[~ok] = np.nan
    ovr = overround(triple)
    ovr[~ok] = np.nan
    ou = implied_probabilities(odds[:, 3:5])
    out["match_market_p_home"], out["match_market_p_draw"], out["match_market_p_away"] = p[:, 0], p[:, 1], p[:, 2]
    out["match_market_overround"] = ovr
    out["match_market_p_over25"] = ou[:, 0]
    return out


def _finish(frame: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """Vectorised columns of every match (see :func:`_finish_columns`); the odds inputs are dropped."""
    missing = np.full(len(frame), np.nan)

    def values(names: list[str]) -> np.ndarray:
        return np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
                                if c in frame.columns else missing for c in names])

    extra = _finish_columns(values, len(frame), params)
    out = frame.drop(columns=[c for c in ODDS_COLUMNS if c in frame.columns])
    return pd.concat([out, pd.DataFrame(extra, index=frame.index)], axis=1)


def _ordered(frame: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    keys = [c for c in KEY_COLUMNS if c in frame.columns]
    return frame[keys + feature_columns(params, market=True)[1:]]


def build_match_features(matches: pd.DataFrame, params: FeatureParams | None = None) -> pd.DataFrame:
    """Pre-match features of every match (one row per input row, same index).

    Each row only uses matches played on earlier days: results of the same day are learnt after all of
    that day's features are taken. Odds columns (``odds_pre_*``), when present, give the ``match_market_*``
    columns; closing odds are never read.
    """
    params = params or FeatureParams()
    frame = prepare_matches(matches)
    engine = FeatureEngine(params, season_team_sets(frame))
    rows_out = _run(engine, frame, params)
    result = _finish(pd.DataFrame(rows_out, index=frame.index), params)
    return _ordered(result, params).reindex(matches.index)


def _run(engine: FeatureEngine, frame: pd.DataFrame, params: FeatureParams, features: bool = True
         ) -> list[dict[str, Any]]:
    """Every match day in order: observe, take the pre-match features (unless ``features`` is False: only the
    final state is wanted), then learn the day's results."""
    rows = iter_rows(frame)
    odds = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in ODDS_COLUMNS if c in frame}
    out: list[dict[str, Any]] = [{} for _ in rows]
    for _, positions in daily_groups(frame):
        for i in positions:
            engine.observe(rows[i].div, rows[i].season, rows[i].date)
        for i in positions if features else ():
            r = rows[i]
            feats = _pair_row(engine.team_state(r.home, r.div), engine.team_state(r.away, r.div), r.date, r.div,
                              r.season, params)
            feats.update({"div": r.div, "season": r.season, "match_date": r.date, "home_team": r.home,
                          "away_team": r.away})
            for c, v in odds.items():
                feats[c] = v[i]
            out[i] = feats
        for i in positions:
            engine.update(rows[i])
    return out


def features_from_states(
    home_state: Mapping[str, Any],
    away_state: Mapping[str, Any],
    kickoff: pd.Timestamp | str,
    div: str | None = None,
    season: str | None = None,
    odds: Mapping[str, float] | None = None,
    params: FeatureParams | None = None,
) -> dict[str, Any]:
    """Features of one upcoming fixture from the two teams' state rows (see :func:`team_state_after`).

    ``div``/``season`` default to the home side's; ``odds`` may hold the ``odds_pre_*`` prices.
    Returns the same columns as :func:`build_match_features` (without the key).
    """
    params = params or FeatureParams()
    div = div or str(home_state["div"])
    season = season or str(home_state["season"])
    row = _pair_row(home_state, away_state, pd.Timestamp(kickoff), div, season, params)
    odds = odds or {}
    for c in ODDS_COLUMNS:
        value = odds.get(c)
        row[c] = float("nan") if value is None else float(value)
    # One fixture: one-row numpy arrays, no DataFrame (this runs per API request).
    extra = _finish_columns(lambda names: np.array([[row.get(c, math.nan) for c in names]], dtype=float), 1, params)
    out: dict[str, Any] = {}
    for col in feature_columns(params, market=True):
        out[col] = div if col == "div" else float(extra[col][0]) if col in extra else float(row[col])
    return out


def team_state_after(
    matches: pd.DataFrame,
    upcoming: pd.DataFrame | None = None,
    params: FeatureParams | None = None,
) -> pd.DataFrame:
    """State of every team after all ``matches`` (one row per team, index ``team``).

    ``upcoming`` (fixtures: ``div, season, match_date, home_team, away_team``) lets a new season start
    before its first result: its team lists give promoted and unseen teams their prior, and ratings are
    regressed exactly as the first match of that season would do. Dixon-Coles is refitted on every
    match played (the freshest fit a prediction can use).
    """
    params = params or FeatureParams()
    frame = prepare_matches(matches)
    upcoming_prepared = prepare_matches(upcoming, require_goals=False) if upcoming is not None else None
    engine = FeatureEngine(params, season_team_sets(frame, upcoming_prepared))
    advance_engine(engine, frame, params)
    return states_from_engine(engine, frame, upcoming_prepared)


def advance_engine(engine: FeatureEngine, frame: pd.DataFrame, params: FeatureParams) -> FeatureEngine:
    """Feed the played matches of a prepared ``frame`` (every day after the engine's last one) to ``engine``."""
    _run(engine, frame, params, features=False)  # reading states has no side effect: only the final one is kept
    return engine


def states_from_engine(engine: FeatureEngine, frame: pd.DataFrame, upcoming_prepared: pd.DataFrame | None
                       ) -> pd.DataFrame:
    """The state rows of :func:`team_state_after` from an engine that has seen every match of the prepared
    ``frame``: a season the upcoming fixtures start begins, every other league's Dixon-Coles is refitted on
    everything played. Changes ``engine`` (a checkpoint is taken before)."""
    started: set[str] = set()
    if upcoming_prepared is not None and len(upcoming_prepared):
        firsts = upcoming_prepared.groupby(["div", "season"], sort=False)["match_date"].min()
        for (div, season), first in firsts.items():
            current = engine.season_of.get(div)
            if current is None or season_start_year(season) > season_start_year(current):
                engine.observe(str(div), str(season), pd.Timestamp(first))
                started.add(str(div))
    if len(frame):
        after = frame["match_date"].max() + pd.Timedelta(days=1)
        for div in list(engine.dc.fits):
            if div not in started:
                engine.dc.refit(div, after)
    teams = sorted(set(engine.team_div))
    states = [engine.team_state(t) for t in teams]
    return pd.DataFrame(states).set_index("team", drop=False)
