"""Serving assets: batch predictions of upcoming fixtures, and their score once settled.

Team names are the canonical ones of the dbt models (``staging.stg_fixtures``, ``analytics.fct_matches``), the
names ``analytics.team_state`` and the online feature store are keyed by.
"""


import dagster as dg
import pandas as pd

from football_platform.contracts import WAREHOUSE_POOL
from football_platform.defs.common.keys import FCT_MATCHES, STG_FIXTURES
from football_platform.defs.common.metadata import table_preview
from football_platform.lib import feature_rows as frows
from football_platform.lib.predictions import (
    PREDICTION_EXTRA_COLUMNS,
    fixture_odds,
    newest_snapshot,
    predict_fixtures,
    score_predictions,
    snapshot_of,
    upcoming_fixtures,
)
from football_platform.lib.publish import (
    PREDICTIONS_DDL,
    publish_redis,
    records_for_api,
    rolling_performance,
    write_warehouse,
)
from football_platform.resources import ServingResource, WarehouseResource

OWNERS = ["team:ml"]
FIXTURES_SQL = ("SELECT div, season, match_date, kickoff_time, home_team, away_team, home_team_source, "
                "away_team_source, snapshot_date FROM staging.stg_fixtures")
PLAYED_SQL = "SELECT div, season, home_team, away_team FROM analytics.fct_matches"
TEAM_ROWS_SQL = "SELECT {cols} FROM analytics.team_state".format(
    cols=", ".join(f'"{c}"' for c in ["team", "event_timestamp", *frows.FLOAT_FIELDS, *frows.STRING_FIELDS]))
RESULTS_SQL = ("SELECT div, season, home_team, away_team, match_date, home_goals AS fthg, away_goals AS ftag, "
               "close_p_home, close_p_draw, close_p_away FROM analytics.fct_matches")


class BatchPredictionConfig(dg.Config):
    as_of: str | None = None  # ISO date; default Settings.as_of; the wall clock is never read


def team_states(wh) -> tuple[dict, pd.Timestamp]:
    """Every team's state from ``analytics.team_state`` (the rows materialised into the online store, read the way
    ``POST /predict`` reads them) and their event timestamp."""
    if not wh.table_exists("analytics", "team_state"):
        raise dg.Failure("analytics.team_state does not exist: materialise team_state first")
    rows = wh.query_df(TEAM_ROWS_SQL)
    if rows.empty:
        raise dg.Failure("analytics.team_state is empty: no results ingested for these leagues")
    return frows.states_from_rows(rows), pd.Timestamp(pd.to_datetime(rows["event_timestamp"], utc=True).min())


def odds_by_canonical_name(odds_rows: pd.DataFrame | None, fixtures: pd.DataFrame) -> pd.DataFrame | None:
    """raw.fixture_odds use the site's team names: key them by the canonical names of ``fixtures``."""
    if odds_rows is None or odds_rows.empty:
        return None
    odds = fixture_odds(odds_rows).rename(columns={"home_team": "home_team_source", "away_team": "away_team_source"})
    names = fixtures[["div", "home_team", "away_team", "home_team_source", "away_team_source"]].drop_duplicates()
    return odds.merge(names, on=["div", "home_team_source", "away_team_source"], how="inner")


def _latest_fixtures_snapshot(wh) -> str | None:
    """The newest fixtures snapshot ingested (``raw.source_files``), even one that listed no fixture at all."""
    if not wh.table_exists("raw", "source_files"):
        return None
    found = wh.query_df("SELECT MAX(source_file) AS name FROM raw.source_files WHERE source_file LIKE 'fixtures/%'")
    return snapshot_of(found["name"].iloc[0]) if len(found) and found["name"].iloc[0] is not None else None


def _production_missing_reason(serving: ServingResource) -> str | None:
    """Why there is no model to predict with (no ``production`` alias yet), or None when there is one."""
    from football_platform.lib import registry

    target = registry.MlflowTarget(tracking_uri=serving.mlflow_tracking_uri, model_name=serving.model_name)
    if registry.alias_version(target, serving.model_alias) is not None:
        return None
    challenger = registry.alias_version(target, registry.CHALLENGER)
    why = (f"challenger v{challenger.version} was not promoted (see production_model's promotion_gate check)"
           if challenger is not None else "no model has been trained yet (materialise trained_model)")
    return f"no '{serving.model_alias}' model of {serving.model_name} yet: {why}"


@dg.asset(
    key="batch_predictions",
    group_name="serving",
    owners=OWNERS,
    deps=["production_model", "team_state", STG_FIXTURES, FCT_MATCHES, "raw_fixtures"],
    kinds={"python", "catboost"},
    pool=WAREHOUSE_POOL,
    metadata={"dagster/table_name": "analytics.predictions"},
    output_required=False,
    description="Probabilities of every upcoming fixture (staging.stg_fixtures, newest snapshot, no result yet) "
                "from the production model and the latest team features (analytics.team_state: the rows the online "
                "store serves); history kept in analytics.predictions, the latest batch cached in Redis for the API. "
                "An empty fixtures list (the off-season) is a normal batch of 0 predictions with a warning; with no "
                "'production' model yet the step is skipped with the reason, and nothing downstream runs.",
)
def batch_predictions(context: dg.AssetExecutionContext, config: BatchPredictionConfig, warehouse: WarehouseResource,
                      serving: ServingResource):
    wh = warehouse.get()
    as_of = config.as_of or serving.as_of
    if not wh.table_exists("staging", "stg_fixtures"):
        raise dg.Failure("staging.stg_fixtures does not exist: run the dbt models first")
    fixtures = newest_snapshot(wh.query_df(FIXTURES_SQL), latest=_latest_fixtures_snapshot(wh))
    upcoming = upcoming_fixtures(fixtures, wh.query_df(PLAYED_SQL), as_of=as_of)
    warnings: list[str] = []
    if upcoming.empty:
        warnings.append("no upcoming fixture in the newest fixtures list (off-season or empty snapshot)"
                        + (f" on or after {as_of}" if as_of else ""))
    # Nothing to predict needs no model: an empty list is an empty batch, whatever the registry holds.
    missing = _production_missing_reason(serving) if not upcoming.empty else None
    if missing is not None:
        reason = f"batch_predictions skipped: {missing}"
        context.log.info(reason)  # the observation carries it to the UI; the CLI prints it as one line
        yield dg.AssetObservation(asset_key="batch_predictions",
                                  metadata={"skipped_reason": reason, "fixtures": len(upcoming)})
        return
    generated_at = pd.Timestamp.now(tz="UTC")  # bookkeeping only: never decides what is upcoming
    columns = [*upcoming.columns, *PREDICTION_EXTRA_COLUMNS]
    predictions, skipped, version, features_ts = pd.DataFrame(columns=columns), pd.DataFrame(), "", None
    if not upcoming.empty:
        odds_rows = wh.query_df("SELECT * FROM raw.fixture_odds") if wh.table_exists("raw", "fixture_odds") else None
        odds = odds_by_canonical_name(odds_rows, fixtures)
        states, features_ts = team_states(wh)
        model, version = serving.load_model()
        predictions, skipped = predict_fixtures(upcoming, states, model, odds)
        predictions["model_name"] = serving.model_name
        predictions["model_version"] = version
        predictions["features_timestamp"] = features_ts
        predictions["generated_at"] = generated_at
        predictions["match_date"] = pd.to_datetime(predictions["match_date"]).dt.date
    write_warehouse(wh, predictions)
    client = serving.redis()
    if client is not None:
        publish_redis(client, serving.redis_key_prefix, records_for_api(predictions), generated_at.isoformat())
    for rec in skipped.to_dict("records") if not skipped.empty else []:
        context.log.warning(f"skipped {rec['match_id']}: {rec['reason']}")
    for warning in warnings:
        context.log.info(warning)  # also in the metadata ("warnings"), which the CLI prints
    yield dg.MaterializeResult(metadata={
        "fixtures": len(upcoming), "predicted": len(predictions), "skipped": len(skipped),
        "model_version": version or "none", "as_of": as_of or "",
        "features_timestamp": features_ts.isoformat() if features_ts is not None else "",
        "warnings": "; ".join(warnings),
        "cache": "redis" if client is not None else "warehouse",
        "preview": table_preview(predictions[["match_date", "div", "home_team", "away_team", "p_home", "p_draw",
                                              "p_away"]]),
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
    deps=["batch_predictions", FCT_MATCHES],
    kinds={"python"},
    pool=WAREHOUSE_POOL,
    metadata={"dagster/table_name": "analytics.prediction_performance"},
    description="Settled predictions scored against results and the closing line (per match RPS): the business "
                "metric on-call watches.",
)
def prediction_performance(warehouse: WarehouseResource, serving: ServingResource) -> dg.MaterializeResult:
    wh = warehouse.get()
    if not wh.table_exists("analytics", "predictions"):
        raise dg.Failure("analytics.predictions does not exist yet: materialise batch_predictions first")
    history = wh.query_df("SELECT * FROM analytics.predictions")
    if history.empty:  # only empty batches so far (the off-season of a fresh deployment): nothing to score
        return dg.MaterializeResult(metadata={"settled": 0, "warnings": "no prediction published yet"})
    # The prediction a match is judged on: the latest one whose features were known on its day (team states are
    # stamped the day after their last result).
    history["match_date"] = pd.to_datetime(history["match_date"])
    ts = pd.to_datetime(history["features_timestamp"], utc=True).dt.tz_localize(None)
    pre = history[ts <= history["match_date"]].sort_values("generated_at")
    latest = pre.drop_duplicates(["div", "season", "home_team", "away_team"], keep="last")
    results = wh.query_df(RESULTS_SQL)
    # Closing-line probabilities (margin already removed) as fair prices: score_predictions normalises 1/odds.
    closing = results[["div", "season", "home_team", "away_team"]].assign(
        odds_close_h=1.0 / results["close_p_home"], odds_close_d=1.0 / results["close_p_draw"],
        odds_close_a=1.0 / results["close_p_away"])
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
