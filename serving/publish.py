"""Publishing a batch to the serving cache (Redis) and the serving tables of the warehouse.

Redis layout (read by ``serving/features.py``): ``<prefix>:team_state:<team>`` hash per team,
``<prefix>:teams`` hash team -> div, ``<prefix>:predictions`` JSON of the latest batch,
``<prefix>:performance`` JSON of the rolling score. Written in one MULTI/EXEC so readers never see half a batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from football_platform.lib.predictions import state_to_record
from football_platform.lib.warehouse import Warehouse

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
    """CREATE TABLE IF NOT EXISTS analytics.serving_team_state (
    "team" VARCHAR NOT NULL,
    "div" VARCHAR NOT NULL,
    "state_json" VARCHAR NOT NULL,
    "features_timestamp" TIMESTAMP WITH TIME ZONE NOT NULL,
    "generated_at" TIMESTAMP WITH TIME ZONE NOT NULL
)""",
]
PREDICTION_COLUMNS = ["match_id", "div", "season", "match_date", "kickoff_time", "home_team", "away_team", "p_home",
                      "p_draw", "p_away", "p_over25", "model_name", "model_version", "features_timestamp",
                      "generated_at"]


def state_records(states: Mapping[str, Mapping[str, Any]], version: str, features_ts: str) -> dict[str, dict]:
    return {team: {**state_to_record(s), "_version": version, "_features_timestamp": features_ts}
            for team, s in states.items()}


def write_warehouse(warehouse: Warehouse, predictions: pd.DataFrame, records: Mapping[str, Mapping[str, str]],
                    features_ts: pd.Timestamp, generated_at: pd.Timestamp) -> None:
    """Append the batch to ``analytics.predictions`` (history kept) and replace the serving team states."""
    states = pd.DataFrame(
        [{"team": t, "div": r.get("div", ""), "state_json": json.dumps(r), "features_timestamp": features_ts,
          "generated_at": generated_at} for t, r in records.items()],
        columns=["team", "div", "state_json", "features_timestamp", "generated_at"],
    )
    with warehouse.connect() as conn, conn.transaction():
        for ddl in PREDICTIONS_DDL:
            conn.execute(ddl)
        conn.copy_into("analytics.predictions", predictions[PREDICTION_COLUMNS])
        conn.execute("DELETE FROM analytics.serving_team_state")
        conn.copy_into("analytics.serving_team_state", states)


def publish_redis(client: Any, prefix: str, items: list[dict], records: Mapping[str, Mapping[str, str]],
                  generated_at: str) -> None:
    pipe = client.pipeline(transaction=True)
    old = client.hkeys(f"{prefix}:teams")
    for team in old:
        name = team.decode() if isinstance(team, bytes) else team
        if name not in records:
            pipe.delete(f"{prefix}:team_state:{name}")
    pipe.delete(f"{prefix}:teams")
    for team, record in records.items():
        key = f"{prefix}:team_state:{team}"
        pipe.delete(key)
        pipe.hset(key, mapping=dict(record))
    if records:
        pipe.hset(f"{prefix}:teams", mapping={t: r.get("div", "") for t, r in records.items()})
    pipe.set(f"{prefix}:predictions", json.dumps({"generated_at": generated_at, "items": items}))
    pipe.execute()
