"""Prediction quality benchmark: walk-forward 2019/20-2023/24 on the six leagues vs the closing line.

    .venv/bin/python benchmarks/model_quality.py                 # full benchmark (~3 min on 2 quiet cores)
    .venv/bin/python benchmarks/model_quality.py --tune          # nested walk-forward tuning on 2012/13-2016/17
    .venv/bin/python benchmarks/model_quality.py --tune-fundamentals '[{}, {"baseline": "dc"}]'  # CatBoost only
    .venv/bin/python benchmarks/model_quality.py --leagues E0 --out /tmp/preds.csv

Every model is trained on all seasons before each test block and scored on the identical matches
that carry closing odds; differences to the closing line come with a paired bootstrap 95% interval.
Tuning only ever looks at test seasons 2012/13-2016/17, never at 2019/20 or later.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from football_platform.contracts import OUTPUT_CLOSING_PROB_COLUMNS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import BIG_SIX, DEFAULT_ROOT, load_matches  # noqa: E402
from football_platform.lib.backtest import (  # noqa: E402
    BacktestConfig,
    prepare_frame,
    score_predictions,
    walk_forward,
)
from football_platform.lib.features import FeatureParams, build_match_features  # noqa: E402
from football_platform.lib.metrics import outcome_index, rps  # noqa: E402
from football_platform.lib.models import CatBoostModel, OrderedLogitModel  # noqa: E402
from football_platform.lib.ratings import DixonColesParams, EloParams, dixon_coles_ratings, elo_ratings  # noqa: E402
from football_platform.lib.seasons import season_range, season_start_year  # noqa: E402

TEST_SEASONS = "1920:2324"
TUNE_SEASONS = "1213:1617"
REFERENCE_EPL = {"closing": 0.1953, "market_pre": 0.1968, "base_rates": 0.2341, "elo_ol": 0.2035, "pi_ol": 0.2028,
                 "dixon_coles": 0.2028, "avg_elo_pi_dc": 0.2010}


class Clock:
    """Wall and CPU time of each stage."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def __call__(self, label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        self.rows.append((label, time.perf_counter() - wall, time.process_time() - cpu))
        print(f"[{label}] wall {self.rows[-1][1]:.1f}s, cpu {self.rows[-1][2]:.1f}s", flush=True)
        return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------ benchmark


def _fmt_table(table: pd.DataFrame) -> str:
    cols = ["n", "rps", "log_loss", "brier", "accuracy", "ece", "rps_ref", "d_rps", "d_rps_lo", "d_rps_hi"]
    out = table.copy()
    out["n"] = out["n"].astype(int)
    fmt = {c: "{:.4f}".format for c in cols if c not in ("n",)}
    fmt["d_rps"] = "{:+.4f}".format
    fmt["d_rps_lo"] = "{:+.4f}".format
    fmt["d_rps_hi"] = "{:+.4f}".format
    keys = [c for c in ("div", "model") if c in out.columns]
    return out[keys + cols].to_string(index=False, formatters=fmt)


FUNDAMENTALS_MODELS = ("catboost_fundamentals", "catboost_fundamentals_cal", "stack_fundamentals")
NON_MARKET_BASELINES = ("avg_elo_pi_dc", "elo_ol", "pi_ol", "dixon_coles", "base_rates")


def _baseline_table(preds: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    """Each fundamentals model against each non-market baseline, paired on the matches with closing odds."""
    preds = preds[preds[OUTPUT_CLOSING_PROB_COLUMNS].notna().all(axis=1)]
    rows = []
    for base in NON_MARKET_BASELINES:
        pair = preds[preds["model"].isin([*FUNDAMENTALS_MODELS, base])]
        if base not in set(pair["model"]):
            continue
        table = score_predictions(pair, by=("model",), reference=base, n_boot=n_boot)
        for r in table[table["model"] != base].itertuples(index=False):
            rows.append({"model": r.model, "baseline": base, "n": int(r.n), "rps": f"{r.rps:.4f}",
                         "rps_baseline": f"{r.rps_ref:.4f}", "d_rps": f"{r.d_rps:+.4f}",
                         "ci95": f"[{r.d_rps_lo:+.4f}, {r.d_rps_hi:+.4f}]", "ci_below_0": bool(r.d_rps_hi < 0)})
    return pd.DataFrame(rows)


def run_benchmark(args: argparse.Namespace) -> None:
    clock = Clock()
    leagues = args.leagues.split(",")
    tests = season_range(args.test_seasons)
    matches = clock("load", load_matches, leagues, None, args.root, not args.no_parser)
    print(f"{len(matches)} matches, {matches['season'].nunique()} seasons, leagues {leagues}", flush=True)
    features = clock("features", build_match_features, matches)
    config = BacktestConfig(thread_count=args.threads)
    preds = clock("walk_forward", walk_forward, matches, tests, config, features, lambda m: print("  " + m, flush=True))
    if args.out:
        preds.to_csv(args.out, index=False)
        print(f"predictions written to {args.out}")
    print("\n== Overall (matches with closing odds; d_rps = model - closing, paired bootstrap 95% CI) ==")
    overall = score_predictions(preds, by=("model",), reference="closing", n_boot=args.n_boot)
    print(_fmt_table(overall.sort_values("rps")))
    print("\n== Per league ==")
    per_league = score_predictions(preds, by=("div", "model"), reference="closing", n_boot=args.n_boot)
    for div in leagues:
        print(_fmt_table(per_league[per_league["div"] == div].sort_values("rps")))
        print()
    big5 = preds[preds["div"].isin(["E0", "SP1", "D1", "I1", "F1"])]
    if big5["div"].nunique() > 1:
        print("== Big five (E0, SP1, D1, I1, F1) ==")
        print(_fmt_table(score_predictions(big5, by=("model",), reference="closing", n_boot=args.n_boot)
                         .sort_values("rps")))
    print("\n== Fundamentals models vs the non-market baselines (same matches with closing odds; "
          "d_rps = model - baseline, paired bootstrap 95% CI) ==")
    groups = {"all six": preds, "big five": big5, "EPL": preds[preds["div"] == "E0"]}
    for label, group in groups.items():
        if group.empty or (label == "big five" and big5["div"].nunique() < 2):
            continue
        print(f"-- {label}")
        print(_baseline_table(group, args.n_boot).to_string(index=False))
    if "E0" in leagues:
        epl = per_league[per_league["div"] == "E0"].set_index("model")
        print("\n== EPL vs the reference RPS (EPL 2019/20-2023/24, docs/metrics.md) ==")
        print(f"{'closing':24s} measured {epl['rps_ref'].iloc[0]:.4f}  reference {REFERENCE_EPL['closing']:.4f}")
        for model, ref in REFERENCE_EPL.items():
            if model in epl.index:
                print(f"{model:24s} measured {epl.loc[model, 'rps']:.4f}  reference {ref:.4f}")
    print("\n== Time ==")
    for label, wall, cpu in clock.rows:
        print(f"{label:14s} wall {wall:7.1f}s  cpu {cpu:7.1f}s")
    total_wall = sum(r[1] for r in clock.rows)
    print(f"{'total':14s} wall {total_wall:7.1f}s   peak RSS {peak_rss_mb():.0f} MB")


# --------------------------------------------------------------------------------------------- tuning


def _season_blocks_rps(frame: pd.DataFrame, seasons: list[str], make) -> float:  # type: ignore[no-untyped-def]
    """Mean RPS over ``seasons``, refitting ``make()`` at each season start on everything before."""
    scores = []
    for season in seasons:
        block = frame[frame["season"] == season]
        train = frame[frame["match_date"] < block["match_date"].min()]
        model = make().fit(train)
        y = outcome_index(block["fthg"].to_numpy(), block["ftag"].to_numpy())
        scores.append(rps(model.predict_proba(block), y) * len(block))
    return float(np.sum(scores) / frame["season"].isin(seasons).sum())


def _tuning_matches(args: argparse.Namespace, clock: Clock) -> tuple[list[str], pd.DataFrame]:
    """The tuning seasons and every match up to the last of them (never the evaluation seasons)."""
    tune = season_range(TUNE_SEASONS)
    last = season_start_year(tune[-1])
    matches = clock("load", load_matches, args.leagues.split(","), None, args.root, not args.no_parser)
    return tune, matches[matches["season"].map(season_start_year) <= last].reset_index(drop=True)


def run_tuning(args: argparse.Namespace) -> None:
    clock = Clock()
    tune, matches = _tuning_matches(args, clock)
    results: list[str] = []

    # 1. Elo: K, home-advantage learning rate, season regression; scored by Elo + ordered logit.
    best_elo, best_score = None, np.inf
    grid = list(itertools.product((10.0, 12.5, 15.0, 20.0), (0.25, 0.5, 1.0), (0.0, 0.05, 0.1, 0.2)))
    for k, hfa_k, reg in grid:
        params = EloParams(k=k, hfa_k=hfa_k, season_regression=reg)
        pre = elo_ratings(matches, params).pre
        frame = matches.assign(match_elo_diff=pre["elo_home"] + pre["elo_hfa"] - pre["elo_away"])
        score = _season_blocks_rps(frame, tune, lambda: OrderedLogitModel("match_elo_diff"))
        results.append(f"elo k={k:g} hfa_k={hfa_k:g} regression={reg:g}: rps {score:.5f}")
        print(results[-1], flush=True)
        if score < best_score:
            best_elo, best_score = params, score
    print(f"BEST elo {best_elo} rps {best_score:.5f}", flush=True)
    for w in (0.0, 1.0):
        params = replace(best_elo, newcomer_weight=w)
        pre = elo_ratings(matches, params).pre
        frame = matches.assign(match_elo_diff=pre["elo_home"] + pre["elo_hfa"] - pre["elo_away"])
        score = _season_blocks_rps(frame, tune, lambda: OrderedLogitModel("match_elo_diff"))
        print(f"elo newcomer_weight={w:g}: rps {score:.5f} (0.5: {best_score:.5f})", flush=True)
        if score < best_score:
            best_elo, best_score = params, score

    # 2. Dixon-Coles decay xi (monthly refits here to keep tuning cheap; the benchmark refits weekly).
    best_dc, best_dc_score = None, np.inf
    for xi in (0.0012, 0.0019, 0.0026):
        params = DixonColesParams(xi=xi, refit="month")
        pre = clock(f"dc xi={xi}", dixon_coles_ratings, matches, params).pre
        y = outcome_index(matches["fthg"].to_numpy(), matches["ftag"].to_numpy())
        mask = matches["season"].isin(tune).to_numpy()
        score = rps(pre.loc[mask, ["dc_p_home", "dc_p_draw", "dc_p_away"]].to_numpy(), y[mask])
        print(f"dixon-coles xi={xi}: rps {score:.5f}", flush=True)
        if score < best_dc_score:
            best_dc, best_dc_score = replace(params, refit="week"), score
    print(f"BEST dc xi={best_dc.xi} rps {best_dc_score:.5f}", flush=True)

    # 3. CatBoost on the features built with the chosen rating settings.
    fparams = FeatureParams(elo=best_elo, dc=best_dc)
    features = clock("features", build_match_features, matches, fparams)
    frame = prepare_frame(matches, features, fparams)
    cb_grid = [
        dict(depth=4, iterations=300, learning_rate=0.05),
        dict(depth=4, iterations=600, learning_rate=0.03),
        dict(depth=6, iterations=400, learning_rate=0.03),
        dict(depth=4, iterations=300, learning_rate=0.05, last_seasons=12),
        dict(depth=4, iterations=300, learning_rate=0.05, half_life_seasons=8.0),
    ]
    scored: list[tuple[float, dict]] = []
    for kw in cb_grid:
        score = clock(f"catboost fundamentals {kw}", _season_blocks_rps, frame, tune,
                      lambda kw=kw: CatBoostModel(feature_set="fundamentals", thread_count=args.threads, **kw))
        print(f"catboost fundamentals {kw}: rps {score:.5f}", flush=True)
        scored.append((score, kw))
    scored.sort(key=lambda t: t[0])
    print(f"BEST catboost fundamentals {scored[0][1]} rps {scored[0][0]:.5f}", flush=True)
    # The market-aware set tries the two best settings, then boosting from the de-margined odds
    # (baseline='market': trees learn corrections to the market instead of rebuilding it).
    market_grid = [kw for _score, kw in scored[:2]] + [
        dict(depth=4, iterations=300, learning_rate=0.05, last_seasons=12, baseline="market"),
        dict(depth=4, iterations=150, learning_rate=0.05, last_seasons=12, baseline="market"),
    ]
    mk = frame[["match_market_p_home", "match_market_p_draw", "match_market_p_away"]].to_numpy(dtype=float)
    in_tune = frame["season"].isin(tune).to_numpy() & ~np.isnan(mk).any(axis=1)
    y_all = outcome_index(frame["fthg"].to_numpy(), frame["ftag"].to_numpy())
    print(f"(pre-match market alone on the same seasons: rps {rps(mk[in_tune], y_all[in_tune]):.5f})", flush=True)
    for kw in market_grid:
        score = clock(f"catboost market_aware {kw}", _season_blocks_rps, frame, tune,
                      lambda kw=kw: CatBoostModel(feature_set="market_aware", thread_count=args.threads, **kw))
        print(f"catboost market_aware {kw}: rps {score:.5f}", flush=True)
    print("\nchosen:", best_elo, best_dc, sep="\n")


def run_fundamentals_tuning(args: argparse.Namespace) -> None:
    """Only the fundamentals CatBoost, on the default (tuned) rating settings, for the settings given as JSON."""
    import json

    clock = Clock()
    tune, matches = _tuning_matches(args, clock)
    features = clock("features", build_match_features, matches)
    frame = prepare_frame(matches, features, FeatureParams())
    dc = frame[["match_dc_p_home", "match_dc_p_draw", "match_dc_p_away"]].to_numpy(dtype=float)
    in_tune = frame["season"].isin(tune).to_numpy()
    y_all = outcome_index(frame["fthg"].to_numpy(), frame["ftag"].to_numpy())
    print(f"(Dixon-Coles alone on {TUNE_SEASONS}: rps {rps(dc[in_tune], y_all[in_tune]):.5f})", flush=True)
    for kw in json.loads(args.tune_fundamentals):
        score = clock(f"catboost fundamentals {kw}", _season_blocks_rps, frame, tune,
                      lambda kw=kw: CatBoostModel(feature_set="fundamentals", thread_count=args.threads, **kw))
        print(f"catboost fundamentals {kw}: rps {score:.5f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tune", action="store_true", help="nested walk-forward tuning on 2012/13-2016/17")
    parser.add_argument("--tune-fundamentals", default=None, metavar="JSON",
                        help='only the fundamentals CatBoost on 2012/13-2016/17, e.g. \'[{}, {"baseline": "dc"}]\'')
    parser.add_argument("--leagues", default=",".join(BIG_SIX))
    parser.add_argument("--test-seasons", default=TEST_SEASONS)
    parser.add_argument("--root", default=str(DEFAULT_ROOT))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--out", default=None, help="write the long-form predictions to this CSV")
    parser.add_argument("--no-parser", action="store_true", help="use the simple CSV reader, not lib.parsing")
    args = parser.parse_args(argv)
    if args.tune_fundamentals:
        run_fundamentals_tuning(args)
    elif args.tune:
        run_tuning(args)
    else:
        run_benchmark(args)


if __name__ == "__main__":
    main()
