"""Benchmark of the features domain on the full history (six leagues, 1993/94-2023/24).

Measures: time to compute every match's features (build_match_features) and every team's state; Feast
materialisation throughput into Redis (prod profile: PostgreSQL offline store in a throw-away database, SQL
registry, Redis online store under a throw-away project/key prefix); ``get_online_features`` latency for one
fixture (two teams) through the feature service and through the per-team views. Prints one JSON object.

    .venv/bin/python -m benchmarks.features [--leagues E0,SP1] [--calls 300]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import uuid

import numpy as np
import pandas as pd

from benchmarks.data import BIG_SIX, load_matches
from football_platform.lib import feature_rows as frows
from football_platform.lib import feature_store as fs
from football_platform.lib import feature_tables as ftables
from football_platform.lib.features import build_match_features, team_state_after
from football_platform.lib.warehouse import Warehouse

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(arr, 50)), 2), "p99_ms": round(float(np.percentile(arr, 99)), 2)}


def _progress(out: dict) -> None:
    print(json.dumps(out), flush=True)  # partial results survive an interrupted run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leagues", default=",".join(BIG_SIX))
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    out: dict = {}

    t = time.perf_counter()
    matches = load_matches([x for x in args.leagues.split(",") if x])
    out["matches"] = len(matches)
    out["seconds_load_csv"] = round(time.perf_counter() - t, 1)
    kickoff = matches.get("kickoff_time")
    matches["event_timestamp"] = frows.kickoff_utc(matches["match_date"], kickoff)

    t = time.perf_counter()
    feats = build_match_features(matches)
    out["seconds_build_match_features"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    states = team_state_after(matches)
    out["seconds_team_state_after"] = round(time.perf_counter() - t, 1)
    long = frows.team_match_rows(feats, matches["event_timestamp"])
    state = frows.state_rows(states, matches["match_date"].max() + pd.Timedelta(days=1))
    out["teams"] = len(state)
    out["peak_rss_mb_after_features"] = round(_peak_rss_mb())
    _progress(out)

    import psycopg
    import redis

    db = f"fp_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"fp_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{db}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        pg = Warehouse(kind="postgres", url=url)
        t = time.perf_counter()
        ftables.replace_table(pg, "analytics.team_match_features", long, date_columns=["match_date"])
        ftables.replace_table(pg, "analytics.team_state", state)
        out["seconds_load_postgres"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        from feast import FeatureStore

        out["seconds_import_feast"] = round(time.perf_counter() - t, 1)
        config = fs.store_config("prod", "/tmp", url, REDIS_URL, prefix)
        store = FeatureStore(config=fs.repo_config(config, fs.FeastPaths.for_state_dir("/tmp").root))
        store.apply(list(fs.build_feast_objects("prod").values()))
        views = [fv.name for fv in store.list_feature_views()]
        t = time.perf_counter()
        store.materialize(pd.Timestamp("1990-01-01", tz="UTC").to_pydatetime(),
                          pd.Timestamp.now(tz="UTC").to_pydatetime(), feature_views=views)
        seconds = time.perf_counter() - t
        written = len(state) * len(views)
        _progress(out)
        out["materialize"] = {"feature_views": len(views), "entity_rows": written, "seconds": round(seconds, 2),
                              "rows_per_second": round(written / seconds, 1),
                              "source_rows_scanned": len(long) + len(state)}
        _progress(out)

        pairs = matches.drop_duplicates(["home_team", "away_team"]).tail(args.calls)[["home_team", "away_team"]]
        service = store.get_feature_service(fs.FEATURE_SERVICE)
        refs = frows.online_feature_refs()
        svc, views_t = [], []
        for home, away in pairs.itertuples(index=False):
            t = time.perf_counter()
            store.get_online_features(features=service, entity_rows=[{"home_team": home, "away_team": away}],
                                      full_feature_names=True).to_dict()
            svc.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.get_online_features(features=refs, entity_rows=[{"team": home}, {"team": away}]).to_dict()
            views_t.append(time.perf_counter() - t)
        out["online_latency_feature_service_one_match"] = {"calls": len(svc), **_percentiles(svc)}
        out["online_latency_team_views_two_teams"] = {"calls": len(views_t), **_percentiles(views_t)}
    finally:
        stale = [k for k in client.scan_iter(count=1000) if prefix.encode() in k]
        if stale:
            client.delete(*stale)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    out["peak_rss_mb"] = round(_peak_rss_mb())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
