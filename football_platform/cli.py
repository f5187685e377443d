"""``football-platform``: a thin command line over the same Dagster definitions.

``ingest`` and ``run`` materialise the code location's assets in-process (the
runs show up in the Dagster UI of the same ``DAGSTER_HOME``); ``backtest`` and
``serve`` call the same library code the assets use. Nothing here is a second
implementation of the pipeline.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

from football_platform.lib.seasons import all_seasons, season_range, season_start_year
from football_platform.settings import PROJECT_ROOT, Settings, get_settings

# Dagster's console logger at WARNING: the CLI's own output is the summary line.
QUIET_LOGGERS = {"console": {"config": {"log_level": "WARNING"}}}


class CliError(Exception):
    """An expected failure: printed as one line, exit code 1, no traceback."""


def _settings_for(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    changes = {}
    if getattr(args, "source", None):
        source = args.source
        if not source.startswith(("http://", "https://")):
            source = str(Path(source).resolve())
        changes["data_source"] = source
    if getattr(args, "leagues", None):
        changes["leagues"] = tuple(x.strip() for x in args.leagues.split(",") if x.strip())
    return dataclasses.replace(settings, **changes)


def _contiguous_runs(seasons: list[str]) -> list[tuple[str, str]]:
    """Group season codes into contiguous (first, last) ranges: one Dagster run each."""
    ordered = sorted(set(seasons), key=season_start_year)
    runs: list[tuple[str, str]] = []
    for code in ordered:
        if runs and season_start_year(code) == season_start_year(runs[-1][1]) + 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return runs


def _instance(settings: Settings):
    """The Dagster instance of this profile, so CLI runs appear in the UI."""
    import dagster as dg

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and (PROJECT_ROOT / "dagster.yaml").exists() and not settings.is_prod:
        shutil.copy(PROJECT_ROOT / "dagster.yaml", config)
    os.environ["DAGSTER_HOME"] = str(home)  # Dagster itself reads it
    return dg.DagsterInstance.get()


def _failures(result) -> tuple[list[str], dict | None]:
    """One-line reasons of the failed steps of a run, and the ingest summary if a step left one."""
    reasons: list[str] = []
    summary = None
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data
        if user is not None:
            reasons.append(user.description or f"{event.step_key} failed")
            if "summary_json" in user.metadata:
                summary = user.metadata["summary_json"].value
        else:
            message = data.error.message.strip().splitlines()[-1] if data.error else "failed"
            reasons.append(f"{event.step_key}: {message}")
    return reasons, summary


def _ingest(defs, settings: Settings, instance, seasons: list[str], force: bool) -> tuple[dict[str, int], list[str]]:
    """Materialise raw_matches (and its checks) for the seasons: one run per contiguous range."""
    from football_platform.defs.ingestion.assets import SEASON_PARTITIONS

    known = set(SEASON_PARTITIONS.get_partition_keys())
    unknown = [s for s in seasons if s not in known]
    if unknown:
        raise CliError(f"unknown season(s) {', '.join(unknown)}: partitions run from 9394 to the current season")
    job = defs.resolve_job_def("ingest_job")
    totals = {k: 0 for k in ("files", "rows", "inserted", "updated", "unchanged", "rejected")}
    failures: list[str] = []
    run_config = {
        "ops": {"raw_matches": {"config": {"leagues": list(settings.leagues), "force": force}}},
        "loggers": QUIET_LOGGERS,
    }
    for first, last in _contiguous_runs(seasons):
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
            raise_on_error=False,
        )
        summary = None
        for event in result.get_asset_materialization_events():
            summary = event.materialization.metadata["summary_json"].value
        reasons, failed_summary = _failures(result)
        failures.extend(reasons)
        summary = summary or failed_summary
        for check in result.get_asset_check_evaluations():
            if not check.passed and check.severity == dg_severity_error():
                failures.append(f"check {check.check_name} failed: {check.description}")
        for key in totals:
            totals[key] += int((summary or {}).get(key, 0))
    return totals, failures


def dg_severity_error():
    import dagster as dg

    return dg.AssetCheckSeverity.ERROR


def cmd_ingest(args: argparse.Namespace) -> int:
    from football_platform.definitions import build_definitions

    settings = _settings_for(args)
    seasons = season_range(args.seasons) if args.seasons else all_seasons()
    defs = build_definitions(settings)
    instance = _instance(settings)
    totals, failures = _ingest(defs, settings, instance, seasons, force=args.force)
    for reason in failures:
        print(f"error: {reason}", file=sys.stderr)
    print(json.dumps(totals))
    return 1 if failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    """The whole graph: the season partitions first, then everything downstream, in-process."""
    from football_platform.definitions import build_definitions

    settings = _settings_for(args)
    seasons = season_range(args.seasons) if args.seasons else all_seasons()
    defs = build_definitions(settings)
    instance = _instance(settings)
    totals, failures = _ingest(defs, settings, instance, seasons, force=args.force)
    materialized: list[str] = []
    if not failures:
        result = defs.resolve_job_def("downstream_job").execute_in_process(
            instance=instance, run_config={"loggers": QUIET_LOGGERS}, raise_on_error=False
        )
        reasons, _ = _failures(result)
        failures.extend(reasons)
        materialized = sorted(
            {e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key}
        )
        for check in result.get_asset_check_evaluations():
            if not check.passed:
                print(f"warning: check {check.asset_key.to_user_string()}:{check.check_name} failed", file=sys.stderr)
    for reason in failures:
        print(f"error: {reason}", file=sys.stderr)
    print(json.dumps({**totals, "assets_materialized": len(materialized) + (1 if totals["files"] else 0)}))
    return 1 if failures else 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """Walk-forward predictions for the test seasons, after ingesting their history through ``ingest_job``."""
    from football_platform.definitions import build_definitions
    from football_platform.defs.ml.backtest_run import run_backtest, summary, write_csv
    from football_platform.defs.ml.data import load_matches
    from football_platform.lib.warehouse import Warehouse

    settings = _settings_for(args)
    tests = season_range(args.test_seasons)
    first = args.train_from or all_seasons()[0]
    if season_start_year(first) >= season_start_year(tests[0]):
        raise CliError(f"--train-from {first} must come before the first test season {tests[0]}")
    seasons = season_range(f"{first}:{tests[-1]}")
    defs = build_definitions(settings)
    instance = _instance(settings)
    _, failures = _ingest(defs, settings, instance, seasons, force=False)
    for reason in failures:  # a rejected history file weakens training but does not void the backtest
        print(f"warning: {reason}", file=sys.stderr)
    matches = load_matches(Warehouse.for_settings(settings), settings.leagues, last_season=tests[-1])
    matches = matches[matches["season"].map(season_start_year) >= season_start_year(first)].reset_index(drop=True)
    preds = run_backtest(matches, tests, model=args.model)
    path = write_csv(preds, Path(args.out))
    print(summary(preds), file=sys.stderr)
    print(str(path))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """The prediction API under uvicorn (heavy Dagster/Feast imports never happen in this process)."""
    from serving.app import ServingOptions
    from serving.runner import run

    options = ServingOptions(
        rate_limit_per_second=args.rate_limit,
        rate_limit_burst=args.rate_burst,
        anonymous_rate_per_second=args.anonymous_rate,
        anonymous_burst=args.anonymous_burst,
        cors_origins=tuple(o.strip() for o in (args.cors_origins or "").split(",") if o.strip()),
        model_poll_seconds=args.model_poll_seconds,
        access_log=not args.no_access_log,
        predict_cache_size=args.predict_cache,
    )
    return run(get_settings(), options, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)


def cmd_keys(args: argparse.Namespace) -> int:
    """``keys create|list|revoke``: API keys in ``ops.api_keys`` (the secret printed once, only its hash stored)."""
    import datetime as dt

    from football_platform.lib.warehouse import Warehouse
    from serving.auth import create_api_key, list_api_keys, revoke_api_key

    warehouse = Warehouse.for_settings(get_settings())
    if args.action == "create":
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_days)) if args.expires_days else None
        scopes = tuple(s.strip() for s in args.scopes.split(",") if s.strip())
        key = create_api_key(warehouse, args.name, scopes, rate_per_second=args.rate, burst=args.burst,
                             expires_at=expires)
        print(f"created key {args.name!r} (shown once, store it now):", file=sys.stderr)
        print(key)
    elif args.action == "list":
        for row in list_api_keys(warehouse):
            print(json.dumps(row, default=str))
    elif not revoke_api_key(warehouse, args.name):
        raise CliError(f"no active key named {args.name!r}")
    else:
        print(f"revoked {args.name!r} (the API drops it at its next key refresh, within a minute)", file=sys.stderr)
    return 0


def _add_keys_parser(sub) -> None:
    keys = sub.add_parser("keys", help="API keys: create (prints the secret once), list, revoke")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new key; prints it once (only its sha256 is stored)")
    create.add_argument("name")
    create.add_argument("--scopes", default="read", help="read and/or admin, comma-separated (admin implies read)")
    create.add_argument("--rate", type=float, help="requests/s for this key (default: the server's --rate-limit)")
    create.add_argument("--burst", type=float, help="token bucket size (default: the rate when --rate is given)")
    create.add_argument("--expires-days", type=float, help="the key stops working after this many days")
    actions.add_parser("list", help="every key (name, scopes, rate, burst, expiry, revocation), never the secret")
    revoke = actions.add_parser("revoke", help="revoke the active key of this name")
    revoke.add_argument("name")
    keys.set_defaults(func=cmd_keys)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="football-platform", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add_data_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--source", help="directory in the site's layout, or a base URL (default: FOOTBALL_DATA_SOURCE)")
        p.add_argument("--leagues", help="comma-separated divisions, e.g. E0,SP1 (default: the six leagues)")
        p.add_argument("--seasons", help="season codes: 1213:2324 (inclusive range) or 2122,2324 (default: all)")

    ingest = sub.add_parser("ingest", help="load season files into raw.matches / raw.odds")
    add_data_options(ingest)
    ingest.add_argument("--force", action="store_true", help="reload files even when unchanged")
    ingest.set_defaults(func=cmd_ingest)

    run = sub.add_parser("run", help="materialise the whole graph for those partitions, in-process")
    add_data_options(run)
    run.add_argument("--force", action="store_true", help="reload season files even when unchanged")
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", help="start the prediction API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="forked uvicorn workers sharing the port")
    serve.add_argument("--rate-limit", type=float, default=50.0, help="requests/s per API key (0: off)")
    serve.add_argument("--rate-burst", type=float, default=100.0, help="token bucket size per API key")
    serve.add_argument("--anonymous-rate", type=float, default=5.0,
                       help="requests/s per client address without a valid key (0: off)")
    serve.add_argument("--anonymous-burst", type=float, default=20.0, help="token bucket size per client address")
    serve.add_argument("--cors-origins", help="comma-separated allowed origins (default: CORS off)")
    serve.add_argument("--model-poll-seconds", type=float, default=30.0, help="how often to look for a new production model")
    serve.add_argument("--no-access-log", action="store_true", help="no JSON line per request")
    serve.add_argument("--predict-cache", type=int, default=16384,
                       help="POST /predict answers kept per pair of online rows as read (0: off)")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)
    _add_keys_parser(sub)

    backtest = sub.add_parser("backtest", help="walk-forward out-of-sample predictions for the test seasons")
    backtest.add_argument("--source", help="directory in the site's layout, or a base URL (default: FOOTBALL_DATA_SOURCE)")
    backtest.add_argument("--leagues", help="comma-separated divisions, e.g. E0,SP1 (default: the six leagues)")
    backtest.add_argument("--test-seasons", required=True, help="season codes to predict, e.g. 2223:2324")
    backtest.add_argument("--train-from", help="first season of history to ingest and train on (default: 9394)")
    backtest.add_argument("--model", default="stack_fundamentals",
                          help="model or ensemble name (default: stack_fundamentals; no odds needed)")
    backtest.add_argument("--out", required=True, help="CSV file to write")
    backtest.set_defaults(func=cmd_backtest)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Dagster's beta/preview notices are for developers reading code, not for CLI users reading output.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # bad option values (season codes, profile) read best as one line
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
