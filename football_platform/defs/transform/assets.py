"""dbt models, seeds and tests as Dagster assets and asset checks.

One ``@dbt_assets`` op runs ``dbt build`` over the selection: models and seeds are
assets, dbt tests are asset checks (a failing test fails the check and, through
``dbt build``, skips what depends on the tested model). Row counts and column
schemas are attached to each materialisation. The manifest must exist (``dbt parse``
at install time); it is never produced here.
"""

from functools import cache
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from football_platform.contracts import WAREHOUSE_POOL
from football_platform.defs.transform.translator import FootballDbtTranslator
from football_platform.lib.warehouse import Warehouse
from football_platform.lib.warmup import warm_imports
from football_platform.resources.dbt_cli import get_dbt_project

DBT_ASSETS_NAME = "football_dbt_models"
# What the steps after dbt import on first use (Feast for the feature store, MLflow and CatBoost for the model): an
# in-process run imports them in the background while dbt runs (lib/warmup.py).
IMPORTED_AFTER_DBT = ("feast", "feast.repo_contents", "mlflow", "catboost")


class DbtBuildConfig(dg.Config):
    """Run config of the dbt op."""

    full_refresh: bool = False  # rebuild the incremental models (fct_matches, league_table, team_form) from scratch


def dbt_build_args(config: DbtBuildConfig) -> list[str]:
    """The dbt command line for a run (selection is added by dagster-dbt from the asset selection)."""
    return ["build", *(["--full-refresh"] if config.full_refresh else [])]


def _with_table_metadata(context: dg.AssetExecutionContext, events: list, warehouse: Warehouse):
    """Row count and column schema for every model output, read from the warehouse after the build."""
    outputs = [e for e in events if isinstance(e, dg.Output)]
    if not outputs:
        yield from events
        return
    metadata: dict[str, dict] = {}
    with warehouse.connect() as conn:
        for output in outputs:
            path = context.asset_key_for_output(output.output_name).path
            schema, table = (path[0], path[-1]) if len(path) > 1 else ("main", path[0])
            columns = conn.query_df(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, table],
            )
            if columns.empty:
                continue
            count = conn.query_one(f'SELECT COUNT(*) FROM "{schema}"."{table}"')
            metadata[output.output_name] = {
                "dagster/row_count": int(count[0]) if count else 0,
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(name=r.column_name, type=str(r.data_type)) for r in columns.itertuples()]
                ),
            }
    for event in events:
        if isinstance(event, dg.Output) and event.output_name in metadata:
            yield event.with_metadata({**event.metadata, **metadata[event.output_name]})
        else:
            yield event


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
        invocation = dbt.cli(dbt_build_args(config), context=context)
        warm_imports(IMPORTED_AFTER_DBT)  # on the other core while this process mostly waits for dbt
        yield from _build_events(context, invocation, dbt, warehouse_kind)
        keep = getattr(dbt, "keep_partial_parse", None)
        if keep is not None:
            keep(invocation)  # the next run's dbt reparses only what changed

    return football_dbt_models


def _build_events(context: dg.AssetExecutionContext, invocation, dbt: DbtCliResource, warehouse_kind: str):
    """The dbt events with table metadata (row counts, column schemas) for every model built."""
    events = invocation.stream()
    if warehouse_kind == "duckdb":
        # fetch_row_counts/fetch_column_metadata open dbt-duckdb's adapter in this process and keep the
        # database file open with its own configuration; every later step of an in-process run
        # (features, training) could then no longer open the warehouse. The same metadata comes from
        # one short connection of ours, once dbt (another process) has released the file.
        path = getattr(dbt, "warehouse_path", None)
        if path:
            yield from _with_table_metadata(context, list(events), Warehouse(kind="duckdb", path=Path(path)))
        else:
            yield from events
    else:
        yield from events.fetch_row_counts().fetch_column_metadata()
