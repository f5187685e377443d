"""Serving assets: batch predictions of upcoming fixtures, and their score once settled."""


import dagster as dg
import pandas as pd

from football_platform.defs.serving.resources import ServingResource
from football_platform.lib.features import team_state_after
from football_platform.lib.market import select_long_odds
from football_platform.lib.predictions import fixture_odds, predict_fixtures, score_predictions, upcoming_fixtures
from football_platform.lib.seasons import season_code, season_start_year
from football_platform.resources import WarehouseResource
from serving.features import records_for_api, rolling_performance
from serving.publish import PREDICTIONS_DDL, publish_redis, state_records, write_warehouse

OWNERS = ["team:ml"]


class BatchPredictionConfig(dg.Config):
    as_of: str | None = None  # ISO date; default Settings.as_of; the wall clock is never read
    history_seasons: int = 8  # seasons of results the team states are computed from


def _latest_states(wh, divs: list[str], upcoming: pd.DataFrame, history_seasons: int) -> tuple[dict, pd.Timestamp]:
    """Team state after every result of the fixtures' leagues (``team_state_after``), and the last result date."""
    placeholders = ", ".join("?" for _ in divs)
    matches = wh.query_df(f"SELECT * FROM raw.matches WHERE div IN ({placeholders})", divs)
    if matches.empty:
        raise dg.Failure(f"raw.matches holds no results for {divs}: ingest those leagues first")
    last = max(season_start_year(s) for s in matches["season"].unique())
    keep = {season_code(y) for y in range(last - history_seasons + 1, last + 1)}
    matches = matches[matches["season"].isin(keep)]
    states = team_state_after(matches, upcoming[["div", "season", "match_date", "home_team", "away_team"]])
    features_ts = pd.Timestamp(matches["match_date"].max()).tz_localize("UTC")
    return {t: row.to_dict() for t, row in states.iterrows()}, features_ts


@dg.asset(
    key="batch_predictions",
    group_name="serving",
    owners=OWNERS,
    deps=["production_model", "team_state", "raw_fixtures"],
    kinds={"python", "catboost"},
    metadata={"dagster/table_name": "analytics.predictions"},
    description="Probabilities of every upcoming fixture from the production model; history kept in "
                "analytics.predictions, latest batch and team states cached in Redis for the API.",
)
def batch_predictions(context: dg.AssetExecutionContext, config: BatchPredictionConfig, warehouse: WarehouseResource,
                      serving: ServingResource) -> dg.MaterializeResult:
    wh = warehouse.get()
    as_of = config.as_of or serving.as_of
    fixtures = wh.query_df("SELECT * FROM raw.fixtures") if wh.table_exists("raw", "fixtures") else pd.DataFrame()
    if fixtures.empty:
        raise dg.Failure("raw.fixtures is empty: materialise raw_fixtures first")
    divs = sorted(fixtures["div"].unique())
    placeholders = ", ".join("?" for _ in divs)
    played = wh.query_df(f"SELECT div, season, home_team, away_team FROM raw.matches WHERE div IN ({placeholders})",
                         divs)
    upcoming = upcoming_fixtures(fixtures, played, as_of=as_of)
    odds_rows = wh.query_df("SELECT * FROM raw.fixture_odds") if wh.table_exists("raw", "fixture_odds") else None
    odds = fixture_odds(odds_rows) if odds_rows is not None else None
    states, features_ts = _latest_states(wh, sorted(upcoming["div"].unique()) or divs, upcoming,
                                         config.history_seasons)
    model, version = serving.load_model()
    predictions, skipped = predict_fixtures(upcoming, states, model, odds)
    generated_at = pd.Timestamp.now(tz="UTC")  # bookkeeping only: never decides what is upcoming
    predictions["model_name"] = serving.model_name
    predictions["model_version"] = version
    predictions["features_timestamp"] = features_ts
    predictions["generated_at"] = generated_at
    predictions["match_date"] = pd.to_datetime(predictions["match_date"]).dt.date
    records = state_records(states, generated_at.isoformat(), features_ts.isoformat())
    write_warehouse(wh, predictions, records, features_ts, generated_at)
    client = serving.redis()
    if client is not None:
        publish_redis(client, serving.redis_key_prefix, records_for_api(predictions), records, generated_at.isoformat())
    for rec in skipped.to_dict("records") if not skipped.empty else []:
        context.log.warning(f"skipped {rec['match_id']}: {rec['reason']}")
    return dg.MaterializeResult(metadata={
        "fixtures": len(upcoming), "predicted": len(predictions), "skipped": len(skipped),
        "model_version": version, "features_timestamp": features_ts.isoformat(),
        "cache": "redis" if client is not None else "warehouse",
        "preview": dg.MetadataValue.md(predictions.head(10)[["match_date", "div", "home_team", "away_team", "p_home",
                                                             "p_draw", "p_away"]].to_markdown(index=False)),
    })


PERFORMANCE_DDL = """CREATE TABLE IF NOT EXISTS analytics.prediction_performance (
    "match_id" VARCHAR NOT NULL, "match_date" DATE NOT NULL, "div" VARCHAR NOT NULL, "season" VARCHAR(4) NOT NULL,
    "home_team" VARCHAR NOT NULL, "away_team" VARCHAR NOT NULL, "outcome" VARCHAR(1) NOT NULL,
    "p_home" DOUBLE PRECISION, "p_draw" DOUBLE PRECISION, "p_away" DOUBLE PRECISION,
    "close_p_home" DOUBLE PRECISION, "close_p_draw" DOUBLE PRECISION, "close_p_away" DOUBLE PRECISION,
    "rps_model" DOUBLE PRECISION NOT NULL, "rps_closing" DOUBLE PRECISION,
    "model_name" VARCHAR NOT NULL, "model_version" VARCHAR NOT NULL,
    "features_timestamp" TIMESTAMP WITH TIME ZONE NOT NULL, "generated_at" TIMESTAMP WITH TIME ZONE NOT NULL
)"""
PERFORMANCE_COLUMNS = ["match_id", "match_date", "div", "season", "home_team", "away_team", "outcome", "p_home",
                       "p_draw", "p_away", "close_p_home", "close_p_draw", "close_p_away", "rps_model", "rps_closing",
                       "model_name", "model_version", "features_timestamp", "generated_at"]


@dg.asset(
    key="prediction_performance",
    group_name="serving",
    owners=OWNERS,
    deps=["batch_predictions", "raw_matches"],
    kinds={"python"},
    metadata={"dagster/table_name": "analytics.prediction_performance"},
    description="Settled predictions scored against results and the closing line (per match RPS): the business "
                "metric on-call watches.",
)
def prediction_performance(warehouse: WarehouseResource, serving: ServingResource) -> dg.MaterializeResult:
    wh = warehouse.get()
    if not wh.table_exists("analytics", "predictions"):
        raise dg.Failure("analytics.predictions does not exist yet: materialise batch_predictions first")
    history = wh.query_df("SELECT * FROM analytics.predictions")
    # The prediction a match is judged on: the latest one made from data strictly before its day.
    history["match_date"] = pd.to_datetime(history["match_date"])
    ts = pd.to_datetime(history["features_timestamp"], utc=True).dt.tz_localize(None)
    pre = history[ts < history["match_date"]].sort_values("generated_at")
    latest = pre.drop_duplicates(["div", "season", "home_team", "away_team"], keep="last")
    results = wh.query_df("SELECT div, season, home_team, away_team, match_date, fthg, ftag FROM raw.matches")
    close_rows = wh.query_df("SELECT * FROM raw.odds WHERE period = 'close' AND market = '1x2'")
    closing = select_long_odds(close_rows) if not close_rows.empty else None
    scored = score_predictions(latest, results, closing)
    scored["match_date"] = pd.to_datetime(scored["match_date"]).dt.date
    with wh.connect() as conn, conn.transaction():
        for ddl in PREDICTIONS_DDL[:1]:
            conn.execute(ddl)
        conn.execute(PERFORMANCE_DDL)
        conn.execute("DELETE FROM analytics.prediction_performance")
        conn.copy_into("analytics.prediction_performance", scored[PERFORMANCE_COLUMNS])
    recent = scored.sort_values("match_date", ascending=False).head(200)
    perf = rolling_performance(recent)
    client = serving.redis()
    if client is not None and perf is not None:
        import json

        client.set(f"{serving.redis_key_prefix}:performance", json.dumps(perf))
    meta: dict = {"settled": len(scored)}
    if perf:
        meta.update({"rolling_rps_model": perf["rps_model"], "rolling_rps_closing": perf["rps_closing"] or float("nan")})
    return dg.MaterializeResult(metadata=meta)
