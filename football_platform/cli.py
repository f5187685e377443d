"""``football-platform``: a thin command line over the same Dagster definitions.

``ingest``, ``run`` and ``replay`` materialise the code location's assets in-process (the
runs show up in the Dagster UI of the same ``DAGSTER_HOME``); ``backtest`` and
``serve`` call the same library code the assets use. Nothing here is a second
implementation of the pipeline.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from pathlib import Path

from football_platform.lib.seasons import all_seasons, season_range, season_start_year
from football_platform.settings import Settings, get_settings


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


def _instance(settings: Settings):
    """The Dagster instance of this profile, so CLI runs appear in the UI."""
    from football_platform.runs.inprocess import profile_instance

    return profile_instance(settings)


def cmd_ingest(args: argparse.Namespace) -> int:
    from football_platform.definitions import build_definitions
    from football_platform.runs.inprocess import ingest_seasons

    settings = _settings_for(args)
    seasons = season_range(args.seasons) if args.seasons else all_seasons()
    defs = build_definitions(settings)
    instance = _instance(settings)
    totals, failures = ingest_seasons(defs, settings, instance, seasons, force=args.force)
    for reason in failures:
        print(f"error: {reason}", file=sys.stderr)
    print(json.dumps(totals))
    return 1 if failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    """The whole graph: the season partitions first, then everything downstream, in-process."""
    from football_platform.definitions import build_definitions
    from football_platform.runs.inprocess import QUIET_LOGGERS, batch_outcome, failures_of, ingest_seasons

    settings = _settings_for(args)
    seasons = season_range(args.seasons) if args.seasons else all_seasons()
    defs = build_definitions(settings)
    instance = _instance(settings)
    totals, failures = ingest_seasons(defs, settings, instance, seasons, force=args.force)
    materialized: list[str] = []
    published = None
    if not failures:
        result = defs.resolve_job_def("downstream_job").execute_in_process(
            instance=instance, run_config={"loggers": QUIET_LOGGERS}, raise_on_error=False
        )
        reasons, _ = failures_of(result)
        failures.extend(reasons)
        materialized = sorted(
            {e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key}
        )
        for check in result.get_asset_check_evaluations():
            if not check.passed:
                print(f"warning: check {check.asset_key.to_user_string()}:{check.check_name} failed", file=sys.stderr)
        published, notes = batch_outcome(result)
        for note in notes:
            print(note, file=sys.stderr)
    for reason in failures:
        print(f"error: {reason}", file=sys.stderr)
    print(json.dumps({**totals, "assets_materialized": len(materialized) + (1 if totals["files"] else 0),
                      "predictions": published if not failures else None}))
    return 1 if failures else 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """Walk-forward predictions for the test seasons, after ingesting their history through ``ingest_job``."""
    from football_platform.definitions import build_definitions
    from football_platform.defs.ml.backtest_run import run_backtest, summary, write_csv
    from football_platform.defs.ml.data import load_matches
    from football_platform.lib.warehouse import Warehouse
    from football_platform.runs.inprocess import ingest_seasons

    settings = _settings_for(args)
    tests = season_range(args.test_seasons)
    first = args.train_from or all_seasons()[0]
    if season_start_year(first) >= season_start_year(tests[0]):
        raise CliError(f"--train-from {first} must come before the first test season {tests[0]}")
    seasons = season_range(f"{first}:{tests[-1]}")
    defs = build_definitions(settings)
    instance = _instance(settings)
    _, failures = ingest_seasons(defs, settings, instance, seasons, force=False)
    for reason in failures:  # a rejected history file weakens training but does not void the backtest
        print(f"warning: {reason}", file=sys.stderr)
    matches = load_matches(Warehouse.for_settings(settings), settings.leagues, last_season=tests[-1])
    matches = matches[matches["season"].map(season_start_year) >= season_start_year(first)].reset_index(drop=True)
    preds = run_backtest(matches, tests, model=args.model)
    path = write_csv(preds, Path(args.out))
    print(summary(preds), file=sys.stderr)
    print(str(path))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Every as-of date from --from to --to: the site's folder as published that day, the scheduled jobs, a score."""
    import datetime as dt

    from football_platform.lib.replay import parse_every
    from football_platform.lib.seasons import current_season
    from football_platform.runs.replay import ReplayOptions, run_replay
    from football_platform.settings import DEFAULT_LEAGUES

    source = Path(args.source)
    if not source.is_dir():
        raise CliError(f"--source {args.source} is not a directory in the site's layout (<season>/<Div>.csv)")
    try:
        first, last = dt.date.fromisoformat(args.date_from), dt.date.fromisoformat(args.date_to)
    except ValueError as exc:
        raise CliError(f"--from/--to must be ISO dates (YYYY-MM-DD): {exc}") from None
    every, model_every = parse_every(args.every), parse_every(args.model_every)
    leagues = tuple(x.strip() for x in (args.leagues or ",".join(DEFAULT_LEAGUES)).split(",") if x.strip())
    seasons = season_range(args.seasons) if args.seasons else all_seasons(until=current_season(last))
    workdir = Path(args.workdir) if args.workdir else get_settings().state_dir / "replay" / f"{first}_{last}"
    options = ReplayOptions(source=source.resolve(), workdir=workdir.resolve(), first=first, last=last,
                            every_days=every, model_every_days=model_every, leagues=leagues, seasons=tuple(seasons),
                            horizon_days=args.horizon_days)
    summary = run_replay(options)
    print(json.dumps(summary, default=str))
    return 1 if summary["failed_runs"] else 0


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
    create.add_argument("--scopes", default="read", help="read, admin and/or metrics, comma-separated (admin implies read and metrics; "
                        "metrics alone is a Prometheus scrape key)")
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

    replay = sub.add_parser("replay", help="run the platform day by day over past dates, on what was published then")
    replay.add_argument("--source", required=True, help="directory of complete season files in the site's layout")
    replay.add_argument("--from", dest="date_from", required=True, help="first as-of date, YYYY-MM-DD")
    replay.add_argument("--to", dest="date_to", required=True, help="last as-of date, YYYY-MM-DD")
    replay.add_argument("--every", default="1d", help="days between as-of dates: 1d (default), 7d, 1w")
    replay.add_argument("--model-every", default="7d", help="cadence of the nightly model update (default: 7d)")
    replay.add_argument("--leagues", help="comma-separated divisions (default: the six leagues)")
    replay.add_argument("--seasons", help="season files to replay from (default: 9394 to the season of --to)")
    replay.add_argument("--horizon-days", type=int, default=7,
                        help="days of matches a synthetic fixtures list covers (at least --every; default 7)")
    replay.add_argument("--workdir", help="where the published folder, stores and reports go "
                                          "(default: <state dir>/replay/<from>_<to>)")
    replay.set_defaults(func=cmd_replay)
    return parser


# Libraries whose internal DeprecationWarnings reach the CLI's output (regex on the warning's module).
NOISY_LIBRARIES = r"(dagster|dagster_dbt|dbt|dbt_common|feast|mlflow|great_expectations|pydantic|google\.protobuf|sqlalchemy|ibis|pandas|catboost)(\.|$)"


def main(argv: list[str] | None = None) -> int:
    # Dagster's beta/preview notices, and the deprecation notices the libraries raise inside their own code, are
    # for developers reading code, not for CLI users reading output. A deprecated call made by this project's code
    # is attributed to our module and still shows.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=NOISY_LIBRARIES)
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
