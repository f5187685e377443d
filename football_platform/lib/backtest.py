"""Walk-forward backtest: strictly out-of-sample predictions for every match of the test seasons.

1. Pre-match features for all matches (:func:`football_platform.lib.features.build_match_features`):
   ratings run match by match and Dixon-Coles refits weekly on earlier matches only, so every feature
   of a match is known before its kick-off.
2. The out-of-sample seasons (``warmup_seasons`` before the first test season, then the test seasons)
   are cut into blocks: months for cheap models, whole seasons for CatBoost (``model.refit``). Each
   model is fitted on every match dated strictly before the block's first match and predicts the block.
3. Calibration and ensemble weights for a block are fitted on the out-of-sample predictions of the
   earlier blocks only (warm-up seasons included), never on a model's own training fit.

The result has one row per (test match, model). Closing odds probabilities (margin removed) are added
where the source has them, for comparison only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from football_platform.contracts import CLOSING_ODDS_COLUMNS, OUTPUT_CLOSING_PROB_COLUMNS, PROB_COLUMNS
from football_platform.lib.features import FeatureParams, build_match_features
from football_platform.lib.market import implied_probabilities, valid_triples
from football_platform.lib.metrics import (
    evaluate,
    outcome_index,
    paired_bootstrap_diff,
    rps_scores,
)
from football_platform.lib.models import LinearPool, TemperatureCalibrator, make_model
from football_platform.lib.models.base import MatchModel
from football_platform.lib.seasons import season_start_year

OUTPUT_COLUMNS = ["div", "season", "date", "home_team", "away_team", "model", *PROB_COLUMNS, *OUTPUT_CLOSING_PROB_COLUMNS,
                  "fthg", "ftag"]

DEFAULT_MODELS = (
    "base_rates", "market_pre", "elo_ol", "pi_ol", "dixon_coles", "catboost_fundamentals", "catboost_market_aware",
)
DEFAULT_ENSEMBLES: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (method, members)
    "avg_elo_pi_dc": ("average", ("elo_ol", "pi_ol", "dixon_coles")),
    "stack_fundamentals": ("stack", ("elo_ol", "pi_ol", "dixon_coles", "catboost_fundamentals")),
    "stack_market": ("stack", ("market_pre", "catboost_market_aware", "catboost_fundamentals", "dixon_coles")),
}
DEFAULT_CALIBRATED = ("catboost_fundamentals", "catboost_market_aware")
# The model the CLI's single-model backtest reports (no odds needed, works on any season).
PRIMARY_MODEL = "stack_fundamentals"


@dataclass(frozen=True)
class BacktestConfig:
    """What to run. ``cadence`` is the refit block of cheap models and of the post-hoc layers."""

    models: tuple[str, ...] = DEFAULT_MODELS
    model_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    ensembles: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=lambda: dict(DEFAULT_ENSEMBLES))
    calibrated: tuple[str, ...] = DEFAULT_CALIBRATED
    cadence: str = "month"
    warmup_seasons: int = 2
    thread_count: int = 2
    feature_params: FeatureParams = field(default_factory=FeatureParams)


def _blocks(frame: pd.DataFrame, cadence: str) -> list[np.ndarray]:
    """Positions of ``frame`` per block, in time order (season, then calendar month for 'month')."""
    if cadence == "season":
        keys = frame["season"].map(season_start_year).to_numpy()
    elif cadence == "month":
        month = frame["match_date"].dt.year * 100 + frame["match_date"].dt.month
        keys = frame["season"].map(season_start_year).to_numpy() * 1_000_000 + month.to_numpy()
    else:
        raise ValueError(f"unknown cadence {cadence!r}; use 'month' or 'season'")
    order = np.argsort(keys, kind="mergesort")
    uniq, starts = np.unique(keys[order], return_index=True)
    bounds = list(starts) + [len(order)]
    return [np.sort(order[bounds[i]: bounds[i + 1]]) for i in range(len(uniq))]


def closing_probs(frame: pd.DataFrame) -> np.ndarray:
    """Closing-line probabilities (n, 3) H, D, A from ``odds_close_h/d/a``, margin removed by normalising
    ``1/odds``; NaN rows where the odds are missing or invalid, all NaN when the columns are absent."""
    if not all(c in frame.columns for c in CLOSING_ODDS_COLUMNS):
        return np.full((len(frame), 3), np.nan)
    odds = frame[CLOSING_ODDS_COLUMNS].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    probs = implied_probabilities(odds)
    probs[~valid_triples(odds)] = np.nan
    return probs


def prepare_frame(matches: pd.DataFrame, features: pd.DataFrame | None, params: FeatureParams) -> pd.DataFrame:
    """Features + results + closing probabilities, sorted by date, index reset."""
    if features is None:
        features = build_match_features(matches, params)
    elif not features.index.equals(matches.index):
        raise ValueError("features must be aligned to matches (same index), as build_match_features returns")
    frame = features.copy()
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    frame["fthg"] = matches["fthg"].astype(int).to_numpy()
    frame["ftag"] = matches["ftag"].astype(int).to_numpy()
    close = closing_probs(matches)
    for j, col in enumerate(OUTPUT_CLOSING_PROB_COLUMNS):
        frame[col] = close[:, j]
    return frame.sort_values(["match_date", "div", "home_team", "away_team"], kind="mergesort").reset_index(drop=True)


def _model(name: str, config: BacktestConfig) -> MatchModel:
    kwargs = dict(config.model_kwargs.get(name, {}))
    if name.startswith("catboost"):
        kwargs.setdefault("thread_count", config.thread_count)
    return make_model(name, **kwargs)


def walk_forward(
    matches: pd.DataFrame,
    test_seasons: Sequence[str],
    config: BacktestConfig | None = None,
    features: pd.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Out-of-sample predictions for every match of ``test_seasons`` (long form, one row per match and model).

    ``matches`` follows the match contract (results required for every row: they are both training
    data and the score of the test rows). ``features`` may be passed when already computed (aligned to
    ``matches``). Columns: ``div, season, date, home_team, away_team, model, p_home, p_draw, p_away,
    p_close_home, p_close_draw, p_close_away`` (NaN without closing odds), ``fthg, ftag``.
    """
    config = config or BacktestConfig()
    say = progress or (lambda _msg: None)
    frame = prepare_frame(matches, features, config.feature_params)
    seasons = sorted(frame["season"].unique(), key=season_start_year)
    tests = sorted({str(s) for s in test_seasons}, key=season_start_year)
    unknown = [s for s in tests if s not in seasons]
    if unknown:
        raise ValueError(f"test season(s) {unknown} have no matches; seasons present: {seasons[0]}..{seasons[-1]}")
    first = seasons.index(tests[0])
    if first == 0:
        raise ValueError(f"test season {tests[0]} is the first season of the data: nothing to train on")
    # warm-up seasons give the post-hoc layers out-of-sample history; the first season never is one
    warm = seasons[max(1, first - config.warmup_seasons): first]
    oos_seasons = set(warm) | set(tests)
    oos = frame[frame["season"].isin(oos_seasons)].reset_index(drop=True)
    y_oos = outcome_index(oos["fthg"].to_numpy(), oos["ftag"].to_numpy())
    dates = frame["match_date"].to_numpy()

    preds: dict[str, np.ndarray] = {}
    for name in config.models:
        model = _model(name, config)
        cadence = "season" if model.refit == "season" else config.cadence
        out = np.full((len(oos), 3), np.nan)
        for block in _blocks(oos, cadence):
            cutoff = oos["match_date"].iloc[block].min()
            train = frame.loc[dates < np.datetime64(cutoff)]
            fitted = _model(name, config).fit(train)
            out[block] = fitted.predict_proba(oos.iloc[block])
        preds[name] = out
        say(f"{name}: {len(_blocks(oos, cadence))} fits")

    # Post-hoc layers, refitted per block on the out-of-sample predictions dated before the block.
    test_mask = oos["season"].isin(tests).to_numpy()
    oos_dates = oos["match_date"].to_numpy()
    layered: dict[str, np.ndarray] = {}
    for name in config.calibrated:
        if name in preds:
            layered[f"{name}_cal"] = np.full((len(oos), 3), np.nan)
    for name, (_method, members) in config.ensembles.items():
        if all(m in preds for m in members):
            layered[name] = np.full((len(oos), 3), np.nan)
    for block in _blocks(oos, config.cadence):
        if not test_mask[block].any():
            continue
        before = oos_dates < oos_dates[block].min()
        for name in config.calibrated:
            if name in preds:
                cal = TemperatureCalibrator().fit(preds[name][before], y_oos[before])
                layered[f"{name}_cal"][block] = cal.transform(preds[name][block])
        for name, (method, members) in config.ensembles.items():
            if all(m in preds for m in members):
                pool = LinearPool(method=method).fit([preds[m][before] for m in members], y_oos[before])
                layered[name][block] = pool.predict([preds[m][block] for m in members])
    preds.update(layered)

    test = oos.loc[test_mask]
    parts = []
    for name, p in preds.items():
        part = pd.DataFrame(
            {
                "div": test["div"].to_numpy(),
                "season": test["season"].to_numpy(),
                "date": test["match_date"].to_numpy(),
                "home_team": test["home_team"].to_numpy(),
                "away_team": test["away_team"].to_numpy(),
                "model": name,
            }
        )
        part[PROB_COLUMNS] = p[test_mask]
        part[OUTPUT_CLOSING_PROB_COLUMNS] = test[OUTPUT_CLOSING_PROB_COLUMNS].to_numpy()
        part["fthg"] = test["fthg"].to_numpy()
        part["ftag"] = test["ftag"].to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[OUTPUT_COLUMNS]


def score_predictions(
    preds: pd.DataFrame, by: Sequence[str] = ("model",), reference: str | None = "closing", n_boot: int = 1000
) -> pd.DataFrame:
    """Metrics per group of a :func:`walk_forward` result, on the matches every model predicted.

    ``reference='closing'`` restricts to matches with closing odds and adds the closing line's RPS, the
    paired difference ``rps - rps_closing`` and its bootstrap 95% interval; ``reference=<model name>``
    compares with that model instead; ``None`` skips the comparison.
    """
    df = preds.copy()
    key = ["div", "season", "home_team", "away_team"]
    if reference == "closing":
        df = df[df[OUTPUT_CLOSING_PROB_COLUMNS].notna().all(axis=1)]
    counts = df.groupby(key).size()
    n_models = df["model"].nunique()
    common = counts[counts == n_models].index
    df = df.set_index(key).loc[common].reset_index()
    rows = []
    for group, g in df.groupby(list(by), sort=True):
        g = g.sort_values(key)
        y = outcome_index(g["fthg"].to_numpy(), g["ftag"].to_numpy())
        p = g[PROB_COLUMNS].to_numpy(dtype=float)
        row = dict(zip(by, group if isinstance(group, tuple) else (group,), strict=True))
        row.update(evaluate(p, y))
        if reference is not None:
            if reference == "closing":
                ref = g[OUTPUT_CLOSING_PROB_COLUMNS].to_numpy(dtype=float)
            else:
                ref_rows = df[df["model"] == reference]
                sub = {k: v for k, v in row.items() if k in by and k != "model"}
                for k, v in sub.items():
                    ref_rows = ref_rows[ref_rows[k] == v]
                ref = ref_rows.sort_values(key)[PROB_COLUMNS].to_numpy(dtype=float)
            diff = paired_bootstrap_diff(rps_scores(p, y), rps_scores(ref, y), n_boot=n_boot)
            row["rps_ref"] = float(rps_scores(ref, y).mean())
            row["d_rps"] = diff.mean
            row["d_rps_lo"] = diff.low
            row["d_rps_hi"] = diff.high
        rows.append(row)
    return pd.DataFrame(rows)


def as_of_predictions(
    matches: pd.DataFrame,
    fixtures: pd.DataFrame,
    fit: Callable[[pd.DataFrame], Any],
    params: FeatureParams | None = None,
    odds: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The backtest path of the production schedule: what the platform would publish on each as-of date.

    ``fixtures``: ``as_of``, ``model_date`` and the fixture columns ``div, season, match_date, kickoff_time,
    home_team, away_team`` (canonical names): the matches listed on the as-of date, predicted by the model trained
    on ``model_date`` (what ``fit`` returns for :func:`build_match_features` of the matches played before that
    date, with their results: the rows ``trained_model`` trains on); the
    features are the team states after every match played before the as-of date
    (:func:`team_state_after`, through the same state rows ``team_state`` writes and the online store serves),
    turned into a model row by :func:`~football_platform.lib.predictions.predict_fixtures`, the function
    ``batch_predictions`` calls. No second feature or model implementation: only dbt and Feast are left out.
    ``odds``: the pre-match prices each as-of date's list carried (``as_of, div, home_team, away_team,
    odds_pre_*``), for market-aware models.
    Returns the fixture rows with ``as_of`` and ``p_home, p_draw, p_away``.
    """
    from football_platform.lib import feature_rows as frows
    from football_platform.lib.predictions import predict_fixtures
    from football_platform.lib.state_checkpoint import team_state_incremental

    params = params or FeatureParams()
    matches = matches.assign(match_date=pd.to_datetime(matches["match_date"]))
    out: list[pd.DataFrame] = []
    fitted: dict[pd.Timestamp, Any] = {}
    keys = [pd.to_datetime(fixtures["as_of"]), pd.to_datetime(fixtures["model_date"])]
    with tempfile.TemporaryDirectory(prefix="fp_backtest_state_") as scratch:
        checkpoint = Path(scratch) / "engine.pkl"
        for (as_of, update), listed in fixtures.groupby(keys, sort=True):
            if update > as_of:
                raise ValueError(f"model date {update.date()} is after as-of date {as_of.date()}")
            if update not in fitted:  # models are fitted in date order: keep only the newest
                train = matches[matches["match_date"] < update].reset_index(drop=True)
                frame = build_match_features(train, params)
                frame["fthg"] = train["fthg"].astype(int).to_numpy()
                frame["ftag"] = train["ftag"].astype(int).to_numpy()
                fitted = {update: fit(frame.sort_values(["match_date", "div", "home_team", "away_team"],
                                                        kind="mergesort").reset_index(drop=True))}
            model = fitted[update]
            played = matches[matches["match_date"] < as_of].reset_index(drop=True)
            upcoming = listed[["div", "season", "match_date", "home_team", "away_team"]]
            # team_state_after, resumed from the previous as-of date's engine (the history only grows): the same frame
            states, _ = team_state_incremental(played, upcoming, checkpoint, params)
            stamp = played["match_date"].max().normalize() + pd.Timedelta(days=1)
            served = frows.states_from_rows(frows.state_rows(states, stamp))
            cols = ["match_id", "div", "season", "match_date", "kickoff_time", "home_team", "away_team"]
            rows = listed.assign(match_id="")[cols]
            prices = None if odds is None else odds[pd.to_datetime(odds["as_of"]) == as_of]
            preds, _ = predict_fixtures(rows, served, model, prices)
            out.append(preds.assign(as_of=as_of))
    if not out:
        return pd.DataFrame(columns=["as_of", *PROB_COLUMNS])
    return pd.concat(out, ignore_index=True)
