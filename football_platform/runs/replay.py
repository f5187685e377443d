"""``football-platform replay``: the platform run as it would have been on each past date.

For every as-of date: the folder of what the site had published that morning (:class:`SiteHistory`), then the jobs
the schedules and sensors run, in their order, through the same Definitions: ``daily_data_collection_job`` for the
season in play (00:00), ``daily_predictions_job`` (what ``daily_predictions_sensor`` launches after it) and, on
model-update days, ``nightly_model_update_job`` (02:00). The first date first loads every earlier season, as a new
deployment would. Every batch of predictions is kept with its as-of date; at the end they are scored against the
results and the closing line, and compared with the backtest path (:func:`as_of_predictions`) on the same matches.

The replay always runs on the local profile in its own work directory (warehouse, MLflow, Feast, Dagster
instance): it never touches the stores of the active profile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg
import pandas as pd

from football_platform.defs.automation.jobs import DAILY_INGESTION_JOB, DAILY_PREDICTIONS_JOB, NIGHTLY_MODEL_JOB
from football_platform.lib import replay as rp
from football_platform.lib.backtest import as_of_predictions
from football_platform.lib.evaluation import NON_MARKET_BASELINES, TrainingOptions, fit_candidate
from football_platform.lib.seasons import current_season, season_start_year
from football_platform.lib.warehouse import Warehouse
from football_platform.runs.inprocess import QUIET_LOGGERS, batch_outcome, failures_of, ingest_seasons, profile_instance
from football_platform.settings import Settings

CANDIDATE = "catboost_market_aware"
PUBLISHED_SQL = ("SELECT match_id, div, season, match_date, kickoff_time, home_team, away_team, p_home, p_draw, p_away, "
                 "model_version, features_timestamp, generated_at FROM analytics.predictions WHERE generated_at >= ?")
RESULTS_SQL = ("SELECT div, season, home_team, away_team, match_date, home_goals AS fthg, away_goals AS ftag, "
               "close_p_home, close_p_draw, close_p_away FROM analytics.fct_matches")


@dataclasses.dataclass(frozen=True)
class ReplayOptions:
    source: Path
    workdir: Path
    first: dt.date
    last: dt.date
    every_days: int = 1
    model_every_days: int = 7
    leagues: tuple[str, ...] = ()
    seasons: tuple[str, ...] = ()
    horizon_days: int = 7
    thread_count: int = 2


def replay_settings(options: ReplayOptions) -> Settings:
    """Local stores under the work directory, reading the published folder."""
    state = options.workdir / "state"
    return Settings(
        profile="local", data_source=str(options.workdir / "published"), leagues=options.leagues, state_dir=state,
        warehouse_path=state / "warehouse.duckdb", mlflow_tracking_uri=f"sqlite:///{state / 'mlflow.db'}",
        dagster_home=state / "dagster_home", redis_key_prefix="replay",
    )


def _rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Progress:
    """A bar on a terminal, one line per as-of date otherwise."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.stream, self.done = total, stream, 0
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def step(self, line: str) -> None:
        self.done += 1
        if self.tty:
            filled = int(30 * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {line[:90]:<90}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


@contextlib.contextmanager
def _output_to(path: Path):
    """Everything the runs print (dbt's log, Dagster's console) goes to ``path``: the terminal keeps one line per
    as-of date and the summary."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _execute(defs: dg.Definitions, job_name: str, instance, run_config: dict, partition: str | None = None):
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(run_config={**run_config, "loggers": QUIET_LOGGERS}, instance=instance,
                                  partition_key=partition, raise_on_error=False)


def run_day(defs: dg.Definitions, settings: Settings, instance, day: dt.date, *, history: Sequence[str] = (),
            update: bool = False, thread_count: int = 2, trained_on: dict[str, dt.date] | None = None,
            ) -> tuple[int | None, dict, list[str], list[str]]:
    """The jobs of one as-of date, in the order the schedules and sensors launch them: ``history`` (earlier seasons,
    a new deployment's first day), the daily collection of the season in play, the daily predictions and, when
    ``update``, the nightly model update. Returns ``(predictions published, seconds per job, notes, failures)``."""
    season = current_season(day)
    failures: list[str] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    if history:
        tick = time.perf_counter()
        _, reasons = ingest_seasons(defs, settings, instance, list(history), force=False)
        failures += reasons
        timings["history_ingest"] = round(time.perf_counter() - tick, 2)
    as_of = {"batch_predictions": {"config": {"as_of": day.isoformat()}}}
    # The walk-forward comparison the promotion gate needs (the non-market baselines), not the whole model zoo.
    training = {"trained_model": {"config": {"comparison_models": list(NON_MARKET_BASELINES),
                                             "thread_count": thread_count}}}
    jobs: list[tuple[str, dict, str | None]] = [(DAILY_INGESTION_JOB, {}, season),
                                                (DAILY_PREDICTIONS_JOB, {"ops": as_of}, None)]
    if update:
        jobs.append((NIGHTLY_MODEL_JOB, {"ops": {**as_of, **training}}, None))
    predicted = None
    for name, config, partition in jobs:
        tick = time.perf_counter()
        result = _execute(defs, name, instance, config, partition)
        timings[name] = round(time.perf_counter() - tick, 2)
        reasons, _ = failures_of(result)
        failures += [f"{name}: {r}" for r in reasons]
        for event in result.get_asset_materialization_events():
            if event.asset_key == dg.AssetKey("trained_model") and trained_on is not None:
                trained_on[str(event.materialization.metadata["version"].value)] = day
        count, job_notes = batch_outcome(result)
        predicted = count if count is not None else predicted
        notes += job_notes
    return predicted, timings, notes, failures


def run_replay(options: ReplayOptions, progress: Callable[[str], None] | None = None) -> dict:
    """Replay every as-of date; returns the summary (also written to ``<workdir>/summary.json``)."""
    from football_platform.definitions import build_definitions

    settings = replay_settings(options)
    options.workdir.mkdir(parents=True, exist_ok=True)
    (options.workdir / "published").mkdir(exist_ok=True)
    history = rp.SiteHistory(options.source, options.workdir / "published", options.leagues, options.seasons,
                             horizon_days=max(options.horizon_days, options.every_days))
    dates = rp.as_of_dates(options.first, options.last, options.every_days)
    updates = set(rp.model_update_dates(dates, options.model_every_days))
    defs = build_definitions(settings)
    instance = profile_instance(settings)
    wh = Warehouse.for_settings(settings)
    bar = Progress(len(dates))
    published: list[pd.DataFrame] = []
    odds: list[pd.DataFrame] = []
    days: list[dict] = []
    failures: list[dict] = []
    trained_on: dict[str, dt.date] = {}  # registered model version -> the as-of date it was trained on
    for index, day in enumerate(dates):
        started = time.perf_counter()
        site = history.publish(day)
        season = current_season(day)
        t0 = pd.Timestamp.now(tz="UTC")
        with _output_to(options.workdir / "replay.log"):
            try:
                earlier = [s for s in options.seasons if season_start_year(s) < season_start_year(season)]
                predicted, timings, notes, day_failures = run_day(
                    defs, settings, instance, day, history=earlier if index == 0 else (), update=day in updates,
                    thread_count=options.thread_count, trained_on=trained_on)
            except Exception as exc:  # noqa: BLE001 - a broken day is reported and the replay goes on
                predicted, timings, notes = None, {}, []
                day_failures = [f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"]
        batch = wh.query_df(PUBLISHED_SQL, [t0.to_pydatetime()]) if wh.table_exists("analytics", "predictions") \
            else pd.DataFrame()
        if len(batch):
            published.append(batch.assign(as_of=pd.Timestamp(day)))
        odds.append(_day_odds(wh, day))
        seconds = round(time.perf_counter() - started, 2)
        record = {"as_of": day.isoformat(), "season": season, "files": site.files, "new_results": site.new_results,
                  "last_result": site.last_result.isoformat() if site.last_result else None,
                  "fixtures_listed": len(site.fixtures), "real_snapshot": site.real_snapshot,
                  "predicted": predicted, "model_update": day in updates, "seconds": seconds, "timings": timings,
                  "peak_rss_mb": round(_rss_mb(), 1), "notes": notes, "failures": day_failures}
        days.append(record)
        failures += [{"as_of": day.isoformat(), "reason": r} for r in day_failures]
        status = "FAILED" if day_failures else "ok"
        line = (f"{day} season {season} files={site.files} new_results={site.new_results} "
                f"fixtures={len(site.fixtures)} predicted={predicted if predicted is not None else '-'}"
                f"{' model-update' if day in updates else ''} {seconds:.1f}s {status}")
        (progress or bar.step)(line)
    return _summarise(options, settings, wh, days, failures, published, odds, sorted(updates), trained_on)


def _day_odds(wh: Warehouse, day: dt.date) -> pd.DataFrame:
    """The pre-match prices of ``day``'s fixtures list, keyed by canonical names (as batch_predictions reads them)."""
    from football_platform.defs.serving.assets import FIXTURES_SQL, odds_by_canonical_name

    if not (wh.table_exists("raw", "fixture_odds") and wh.table_exists("staging", "stg_fixtures")):
        return pd.DataFrame()
    rows = wh.query_df("SELECT * FROM raw.fixture_odds WHERE snapshot_date = ?", [day])
    fixtures = wh.query_df(FIXTURES_SQL)
    mapped = odds_by_canonical_name(rows, fixtures)
    return pd.DataFrame() if mapped is None else mapped.assign(as_of=pd.Timestamp(day))


def _summarise(options: ReplayOptions, settings: Settings, wh: Warehouse, days: list[dict], failures: list[dict],
               published: list[pd.DataFrame], odds: list[pd.DataFrame], updates: Sequence[dt.date],
               trained_on: dict[str, dt.date]) -> dict:
    everything = pd.concat(published, ignore_index=True) if published else pd.DataFrame()
    out_dir = options.workdir
    summary: dict = {
        "from": options.first.isoformat(), "to": options.last.isoformat(), "every_days": options.every_days,
        "model_every_days": options.model_every_days, "leagues": list(options.leagues),
        "as_of_dates": len(days), "model_updates": len(updates), "failed_runs": len(failures),
        "failures": failures[:20], "fixtures_listed": int(sum(d["fixtures_listed"] for d in days)),
        "predictions_published": int(len(everything)),
        "seconds_total": round(sum(d["seconds"] for d in days), 1),
        "seconds_per_date_median": round(float(pd.Series([d["seconds"] for d in days]).median()), 2) if days else 0.0,
        "seconds_per_date_max": round(max((d["seconds"] for d in days), default=0.0), 2),
        "peak_rss_mb": round(_rss_mb(), 1),
    }
    (out_dir / "days.json").write_text(json.dumps(days, indent=1))
    if everything.empty:
        summary.update(scored={"overall": {"n": 0}}, backtest_comparison={"n": 0})
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
        return summary
    everything.to_csv(out_dir / "published_predictions.csv", index=False)
    latest = rp.published_before_kickoff(everything)
    results = wh.query_df(RESULTS_SQL)
    settled = rp.settle(latest, results)
    summary["scored"] = rp.score(settled)
    summary["chart"] = str(rp.gap_chart(settled, out_dir / "rps_gap_to_closing.png",
                                        f"replay {options.first}..{options.last}: RPS gap to the closing line"))
    summary["backtest_comparison"] = _compare_with_backtest(options, settings, settled, odds, trained_on)
    settled.to_csv(out_dir / "scored_predictions.csv", index=False)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def _compare_with_backtest(options: ReplayOptions, settings: Settings, settled: pd.DataFrame,
                           odds: list[pd.DataFrame], trained_on: dict[str, dt.date]) -> dict:
    """The backtest path on the very matches and as-of dates the replay scored (same model, same features code)."""
    from football_platform.defs.features.assets import warehouse_matches

    if settled.empty:
        return {"n": 0}
    wh = Warehouse.for_settings(settings)
    matches = warehouse_matches(wh)
    training = TrainingOptions(candidate=CANDIDATE, thread_count=options.thread_count)
    fixtures = settled[["as_of", "div", "season", "match_date", "kickoff_time", "home_team", "away_team"]].assign(
        model_date=[pd.Timestamp(trained_on[str(v)]) for v in settled["model_version"]])
    prices = pd.concat([o for o in odds if len(o)], ignore_index=True) if any(len(o) for o in odds) else None
    backtest = as_of_predictions(matches, fixtures, lambda frame: fit_candidate(frame, training).predictor_,
                                 odds=prices)
    backtest.to_csv(options.workdir / "backtest_predictions.csv", index=False)
    return rp.compare_paths(settled, backtest)
