"""dbt models, seeds and tests as Dagster assets and asset checks.

One ``@dbt_assets`` op runs ``dbt build`` over the selection: models and seeds are
assets, dbt tests are asset checks (a failing test fails the check and, through
``dbt build``, skips what depends on the tested model). Row counts and column
schemas are attached to each materialisation. The manifest must exist (``dbt parse``
at install time); it is never produced here.
"""

from functools import cache

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from football_platform.defs.transform.resources import get_dbt_project
from football_platform.defs.transform.translator import FootballDbtTranslator

# Must match the ingestion assets' pool: DuckDB admits one writing process at a time.
WAREHOUSE_POOL = "warehouse"
DBT_ASSETS_NAME = "football_dbt_models"


class DbtBuildConfig(dg.Config):
    """Run config of the dbt op."""

    full_refresh: bool = False  # rebuild the incremental models (fct_matches, league_table, team_form) from scratch


def dbt_build_args(config: DbtBuildConfig) -> list[str]:
    """The dbt command line for a run (selection is added by dagster-dbt from the asset selection)."""
    return ["build", *(["--full-refresh"] if config.full_refresh else [])]


class ManifestMissingError(FileNotFoundError):
    """The dbt manifest has not been prepared."""


@cache
def build_dbt_assets(warehouse_kind: str = "duckdb") -> dg.AssetsDefinition:
    """The dbt assets, styled for the warehouse engine of the active profile."""
    project = get_dbt_project()
    if not project.manifest_path.exists():
        raise ManifestMissingError(
            f"dbt manifest {project.manifest_path} is missing: run `make manifest` (or "
            f"`cd dbt_project && ../.venv/bin/dbt parse --project-dir . --profiles-dir . --target local`)"
        )

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name=DBT_ASSETS_NAME,
        dagster_dbt_translator=FootballDbtTranslator(warehouse_kind),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def football_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
        events = dbt.cli(dbt_build_args(config), context=context).stream()
        if warehouse_kind == "duckdb":
            # fetch_row_counts/fetch_column_metadata open dbt-duckdb's adapter in this process and keep the
            # database file open with its own configuration; every later step of an in-process run
            # (features, training) could then no longer open the warehouse.
            yield from events
        else:
            yield from events.fetch_row_counts().fetch_column_metadata()

    return football_dbt_models
