"""How dbt nodes appear in Dagster: groups by layer, owners, kinds.

Sources keep the asset key set in their ``meta.dagster.asset_key`` (``raw_matches``,
``raw_fixtures``), so dbt's lineage hangs off the ingestion assets in one graph.
Models keep dagster-dbt's default key, ``[schema, name]`` (e.g. ``analytics/league_table``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

# dbt project folder (fqn[1]) or resource type -> Dagster group.
LAYER_GROUPS: dict[str, str] = {
    "staging": "staging",
    "intermediate": "intermediate",
    "marts": "analytics",
    "seed": "reference",
    "snapshot": "snapshots",
}
DEFAULT_OWNERS: dict[str, tuple[str, ...]] = {
    "staging": ("team:data-engineering",),
    "intermediate": ("team:data-engineering",),
    "analytics": ("team:analytics",),
    "reference": ("team:analytics",),
}
WAREHOUSE_KINDS = {"duckdb": "duckdb", "postgres": "postgres"}


def layer_group(props: Mapping[str, Any]) -> str:
    """``models/marts/league_table.sql`` -> ``'analytics'``; seeds -> ``'reference'``."""
    resource_type = props.get("resource_type")
    if resource_type in ("seed", "snapshot"):
        return LAYER_GROUPS[resource_type]
    fqn = props.get("fqn") or []
    folder = fqn[1] if len(fqn) > 2 else ""
    return LAYER_GROUPS.get(folder, "transform")


def node_owners(props: Mapping[str, Any], group: str) -> list[str]:
    """``meta.owner`` (set per layer in dbt_project.yml) wins; else the layer's default team."""
    meta = (props.get("config") or {}).get("meta") or props.get("meta") or {}
    owner = meta.get("owner")
    if isinstance(owner, str) and owner:
        return [owner]
    return list(DEFAULT_OWNERS.get(group, ("team:data-engineering",)))


class FootballDbtTranslator(DagsterDbtTranslator):
    """Groups by layer, owners per layer, kinds ``dbt`` + ``sql`` + the warehouse engine."""

    def __init__(self, warehouse_kind: str = "duckdb"):
        if warehouse_kind not in WAREHOUSE_KINDS:
            raise ValueError(f"warehouse_kind must be one of {sorted(WAREHOUSE_KINDS)}, got {warehouse_kind!r}")
        super().__init__(
            settings=DagsterDbtTranslatorSettings(
                enable_asset_checks=True,
                # raw.matches and raw.odds are both written by the one raw_matches asset.
                enable_duplicate_source_asset_keys=True,
                enable_code_references=True,
            )
        )
        self.warehouse_kind = warehouse_kind

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") == "source":
            return spec  # the ingestion assets own these keys; don't restyle them
        group = layer_group(props)
        return spec.replace_attributes(
            group_name=group,
            owners=node_owners(props, group),
            kinds={"dbt", "sql", WAREHOUSE_KINDS[self.warehouse_kind]},
        )
