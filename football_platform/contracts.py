"""Names the layers share, defined once: tables and their owners, pools, keys, model and feature-service names,
and the column families that travel between modules.

Pure constants, no imports beyond the standard library: ``lib/`` (which never imports Dagster), ``serving/`` (the
API) and the Dagster definitions all read them. The Dagster-side forms (``AssetKey`` objects, the season
partitions) live in :mod:`football_platform.defs.common`, built from the names here.

Warehouse column and table names are a published contract (the README's tables, the analysts' dbt docs, the
command line's CSV): this module names them, it never renames them.
"""

from __future__ import annotations

# --- Dagster concurrency -------------------------------------------------------------------------------------------
# DuckDB admits one writing process at a time: every asset that writes the warehouse runs in this pool (limit 1
# locally, dagster.yaml / deploy/dagster/dagster.yaml).
WAREHOUSE_POOL = "warehouse"
# Every job whose runs write the warehouse carries this tag; the prod run queue (deploy/dagster/dagster.yaml, the
# Helm values) starts one such run at a time.
WAREHOUSE_WRITER_TAGS: dict[str, str] = {"football/warehouse_writer": "true"}

# --- Asset names ---------------------------------------------------------------------------------------------------
# Python assets (key = the name). dbt models keep dagster-dbt's default key [schema, model]: see DBT_MODEL_KEYS.
RAW_MATCHES_ASSET = "raw_matches"  # writes raw.matches and raw.odds
RAW_FIXTURES_ASSET = "raw_fixtures"  # writes raw.fixtures and raw.fixture_odds
MATCH_FEATURES_ASSET = "match_features"
TEAM_STATE_ASSET = "team_state"
FEAST_APPLY_ASSET = "feast_apply"
FEAST_ONLINE_ASSET = "feast_online_materialization"
TRAINING_SET_ASSET = "training_set"
TRAINED_MODEL_ASSET = "trained_model"
PRODUCTION_MODEL_ASSET = "production_model"
BATCH_PREDICTIONS_ASSET = "batch_predictions"
PREDICTION_PERFORMANCE_ASSET = "prediction_performance"
HEALTH_REPORT_ASSET = "asset_health_report"

# dbt model name -> its Dagster asset key path (dagster-dbt's default: [schema, model]). Kept as constants so that
# importing a domain never loads the manifest; tests/unit/test_contracts.py checks each against
# dagster_dbt.get_asset_key_for_model on the real manifest.
DBT_MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "fct_matches": ("analytics", "fct_matches"),
    "stg_fixtures": ("staging", "stg_fixtures"),
    "stg_fixture_odds": ("staging", "stg_fixture_odds"),
}

# --- Warehouse tables and who owns their DDL -----------------------------------------------------------------------
RAW_MATCHES_TABLE = "raw.matches"
RAW_ODDS_TABLE = "raw.odds"
RAW_FIXTURES_TABLE = "raw.fixtures"
RAW_FIXTURE_ODDS_TABLE = "raw.fixture_odds"
RAW_REJECTED_ROWS_TABLE = "raw.rejected_rows"
RAW_SOURCE_FILES_TABLE = "raw.source_files"
FCT_MATCHES_TABLE = "analytics.fct_matches"
STG_FIXTURES_TABLE = "staging.stg_fixtures"
MATCH_FEATURES_TABLE = "analytics.match_features"
TEAM_MATCH_FEATURES_TABLE = "analytics.team_match_features"
TEAM_STATE_TABLE = "analytics.team_state"
TRAINING_SET_TABLE = "analytics.training_set"
PREDICTIONS_TABLE = "analytics.predictions"
PREDICTION_PERFORMANCE_TABLE = "analytics.prediction_performance"
ALERTS_TABLE = "ops.alerts"
ASSET_HEALTH_TABLE = "ops.asset_health"
API_KEYS_TABLE = "ops.api_keys"

# The one module that creates each table (the schema ``analytics`` is shared by dbt's models and the Python-written
# tables below; dbt owns every other table there).
TABLE_OWNERS: dict[str, str] = {
    RAW_MATCHES_TABLE: "football_platform.lib.raw_schema",
    RAW_ODDS_TABLE: "football_platform.lib.raw_schema",
    RAW_FIXTURES_TABLE: "football_platform.lib.raw_schema",
    RAW_FIXTURE_ODDS_TABLE: "football_platform.lib.raw_schema",
    RAW_REJECTED_ROWS_TABLE: "football_platform.lib.raw_schema",
    RAW_SOURCE_FILES_TABLE: "football_platform.lib.raw_schema",
    FCT_MATCHES_TABLE: "dbt_project/models/marts",
    STG_FIXTURES_TABLE: "dbt_project/models/staging",
    MATCH_FEATURES_TABLE: "football_platform.lib.feature_tables",
    TEAM_MATCH_FEATURES_TABLE: "football_platform.lib.feature_tables",
    TEAM_STATE_TABLE: "football_platform.lib.feature_tables",
    TRAINING_SET_TABLE: "football_platform.lib.feature_tables",
    PREDICTIONS_TABLE: "football_platform.lib.publish",
    PREDICTION_PERFORMANCE_TABLE: "football_platform.defs.serving.assets",
    ALERTS_TABLE: "football_platform.lib.alerts",
    ASSET_HEALTH_TABLE: "football_platform.lib.ops_tables",
    API_KEYS_TABLE: "serving.auth",
}

# --- Keys ----------------------------------------------------------------------------------------------------------
# A match (and a fixture) is identified by league, season and the two teams, as raw.matches' primary key.
MATCH_KEY: list[str] = ["div", "season", "home_team", "away_team"]

# --- MLflow and Feast names ----------------------------------------------------------------------------------------
MODEL_NAME = "football-match-outcome"  # registered model
EXPERIMENT_NAME = "football-match-outcome"
PRODUCTION_ALIAS = "production"
CHALLENGER_ALIAS = "challenger"
FEATURE_SERVICE = "match_outcome_v1"

# --- Column families (one meaning per name) ------------------------------------------------------------------------
# Lists, not tuples: pandas reads a tuple in ``on=`` / ``subset=`` as one label. Copy before mutating.
# Model probabilities of home win / draw / away win, in every prediction frame and table.
PROB_COLUMNS: list[str] = ["p_home", "p_draw", "p_away"]
# Decimal closing odds (home, draw, away) in the backtest's input frame (parsed season files).
CLOSING_ODDS_COLUMNS: list[str] = ["odds_close_h", "odds_close_d", "odds_close_a"]
# Closing-line probabilities (margin removed) as the warehouse names them: analytics.fct_matches, the training set.
CLOSING_PROB_COLUMNS: list[str] = ["close_p_home", "close_p_draw", "close_p_away"]
# The same closing-line probabilities beside a model's p_* in prediction outputs (backtest CSV, evaluations).
OUTPUT_CLOSING_PROB_COLUMNS: list[str] = ["p_close_home", "p_close_draw", "p_close_away"]
# Warehouse naming -> output naming.
CLOSING_PROB_TO_OUTPUT: dict[str, str] = dict(zip(CLOSING_PROB_COLUMNS, OUTPUT_CLOSING_PROB_COLUMNS, strict=True))
# Match results as the feature/training frames carry them.
RESULT_COLUMNS: list[str] = ["result", "fthg", "ftag"]
