"""Published predictions: the ``analytics.predictions`` table and the Redis cache, written by the
``batch_predictions`` asset and read by the API (``serving/features.py``). Owner of the table's DDL.

Redis layout: ``<prefix>:predictions`` JSON of the latest batch
(``{"generated_at", "items"}``) and ``<prefix>:performance`` JSON of the rolling score. Team features are not
published here: ``POST /predict`` reads Feast's online store, filled by ``feast_online_materialization``.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from football_platform.lib.warehouse import Warehouse

REDIS_TIMEOUT_SECONDS = 0.25  # a dead Redis must turn into a quick 503 in the API, never a hang

PREDICTIONS_DDL = [
    "CREATE SCHEMA IF NOT EXISTS analytics",
    """CREATE TABLE IF NOT EXISTS analytics.predictions (
    "match_id" VARCHAR NOT NULL,
    "div" VARCHAR NOT NULL,
    "season" VARCHAR(4) NOT NULL,
    "match_date" DATE NOT NULL,
    "kickoff_time" VARCHAR(5),
    "home_team" VARCHAR NOT NULL,
    "away_team" VARCHAR NOT NULL,
    "p_home" DOUBLE PRECISION NOT NULL,
    "p_draw" DOUBLE PRECISION NOT NULL,
    "p_away" DOUBLE PRECISION NOT NULL,
    "p_over25" DOUBLE PRECISION,
    "model_name" VARCHAR NOT NULL,
    "model_version" VARCHAR NOT NULL,
    "features_timestamp" TIMESTAMP WITH TIME ZONE NOT NULL,
    "generated_at" TIMESTAMP WITH TIME ZONE NOT NULL
)""",
]
PREDICTION_COLUMNS = ["match_id", "div", "season", "match_date", "kickoff_time", "home_team", "away_team", "p_home",
                      "p_draw", "p_away", "p_over25", "model_name", "model_version", "features_timestamp",
                      "generated_at"]
# Earlier layouts kept a copy of every team state for the API (a warehouse table and a Redis hash per team);
# /predict reads Feast's online store now, so the batch removes them when it finds them.
LEGACY_TABLE = "analytics.serving_team_state"
LEGACY_TEAMS_KEY = "{prefix}:teams"
LEGACY_STATE_KEY = "{prefix}:team_state:{team}"


def write_warehouse(warehouse: Warehouse, predictions: pd.DataFrame) -> None:
    """Append the batch to ``analytics.predictions`` (history kept)."""
    with warehouse.connect() as conn, conn.transaction():
        for ddl in PREDICTIONS_DDL:
            conn.execute(ddl)
        conn.execute(f"DROP TABLE IF EXISTS {LEGACY_TABLE}")
        if len(predictions):  # an empty batch (off-season) still leaves the table for its readers
            conn.copy_into("analytics.predictions", predictions[PREDICTION_COLUMNS])


def publish_redis(client: Any, prefix: str, items: list[dict], generated_at: str) -> None:
    """The latest batch for ``GET /predictions``, in one MULTI/EXEC (readers never see half a batch)."""
    legacy = [LEGACY_STATE_KEY.format(prefix=prefix, team=t.decode() if isinstance(t, bytes) else t)
              for t in client.hkeys(LEGACY_TEAMS_KEY.format(prefix=prefix))]
    pipe = client.pipeline(transaction=True)
    if legacy:
        pipe.delete(*legacy, LEGACY_TEAMS_KEY.format(prefix=prefix))
    pipe.set(f"{prefix}:predictions", json.dumps({"generated_at": generated_at, "items": items}))
    pipe.execute()


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                socket_connect_timeout=REDIS_TIMEOUT_SECONDS, retry_on_timeout=False)


def rolling_performance(frame: pd.DataFrame) -> dict[str, Any] | None:
    """``{"model", "matches", "rps_model", "rps_closing"}`` of the given settled rows (closing on its own rows)."""
    if frame.empty:
        return None
    closing = frame["rps_closing"].dropna()
    return {"model": str(frame["model_name"].iloc[0]), "matches": int(len(frame)),
            "rps_model": float(frame["rps_model"].mean()),
            "rps_closing": float(closing.mean()) if len(closing) else None}


def records_for_api(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Prediction rows as JSON-ready dicts (ISO dates, NaN -> None)."""
    out = []
    for rec in frame.to_dict("records"):
        item: dict[str, Any] = {}
        for k, v in rec.items():
            if isinstance(v, pd.Timestamp):
                v = v.date().isoformat() if k == "match_date" else v.isoformat()
            elif hasattr(v, "isoformat"):
                v = v.isoformat()
            elif isinstance(v, float) and v != v:
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            item[k] = v
        out.append(item)
    return out
