"""Asset keys the domains name across their boundaries (dependencies, job selections, sensors).

dbt models keep dagster-dbt's default key ``[schema, model]``. They are built from
:data:`football_platform.contracts.DBT_MODEL_KEYS` rather than looked up in the manifest at import time, so that
importing a domain never loads the manifest nor imports the transform domain; ``tests/unit/test_contracts.py``
checks every one against ``dagster_dbt.get_asset_key_for_model`` on the real manifest.
"""

from __future__ import annotations

import dagster as dg

from football_platform import contracts


def dbt_model_key(model: str) -> dg.AssetKey:
    """The asset key of dbt model ``model`` (one of :data:`~football_platform.contracts.DBT_MODEL_KEYS`)."""
    return dg.AssetKey(list(contracts.DBT_MODEL_KEYS[model]))


RAW_MATCHES = dg.AssetKey(contracts.RAW_MATCHES_ASSET)  # raw.matches and raw.odds
RAW_FIXTURES = dg.AssetKey(contracts.RAW_FIXTURES_ASSET)  # raw.fixtures and raw.fixture_odds
FCT_MATCHES = dbt_model_key("fct_matches")
STG_FIXTURES = dbt_model_key("stg_fixtures")
MATCH_FEATURES = dg.AssetKey(contracts.MATCH_FEATURES_ASSET)
TEAM_STATE = dg.AssetKey(contracts.TEAM_STATE_ASSET)
FEAST_APPLY = dg.AssetKey(contracts.FEAST_APPLY_ASSET)
FEAST_ONLINE = dg.AssetKey(contracts.FEAST_ONLINE_ASSET)
TRAINING_SET = dg.AssetKey(contracts.TRAINING_SET_ASSET)
TRAINED_MODEL = dg.AssetKey(contracts.TRAINED_MODEL_ASSET)
PRODUCTION_MODEL = dg.AssetKey(contracts.PRODUCTION_MODEL_ASSET)
BATCH_PREDICTIONS = dg.AssetKey(contracts.BATCH_PREDICTIONS_ASSET)
PREDICTION_PERFORMANCE = dg.AssetKey(contracts.PREDICTION_PERFORMANCE_ASSET)
HEALTH_REPORT = dg.AssetKey(contracts.HEALTH_REPORT_ASSET)
