"""How the dbt project appears in Dagster, read from the manifest prepared at install time."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from football_platform.defs.transform import build_transform_defs
from football_platform.defs.transform.translator import FootballDbtTranslator, layer_group, node_owners
from football_platform.resources.dbt_cli import get_dbt_project
from football_platform.settings import Settings


def test_layer_group_and_owners() -> None:
    assert layer_group({"resource_type": "model", "fqn": ["football", "marts", "league_table"]}) == "analytics"
    assert layer_group({"resource_type": "model", "fqn": ["football", "staging", "stg_odds"]}) == "staging"
    assert layer_group({"resource_type": "seed", "fqn": ["football", "points_adjustments"]}) == "reference"
    assert node_owners({"config": {"meta": {"owner": "team:analytics"}}}, "analytics") == ["team:analytics"]
    assert node_owners({"config": {"meta": {}}}, "staging") == ["team:data-engineering"]
    with pytest.raises(ValueError, match="warehouse_kind"):
        FootballDbtTranslator("sqlite")


@pytest.fixture(scope="module")
def dbt_assets_def(tmp_path_factory: pytest.TempPathFactory) -> dg.AssetsDefinition:
    manifest = get_dbt_project().manifest_path
    assert manifest.exists(), f"{manifest} missing: `make install` prepares it (dbt parse)"
    settings = Settings(profile="local", warehouse_path=Path(tmp_path_factory.mktemp("wh")) / "w.duckdb")
    defs = build_transform_defs(settings, with_resource=True)
    defs.resolve_all_job_defs()  # the definitions load
    (assets,) = defs.assets  # type: ignore[misc]
    assert isinstance(assets, dg.AssetsDefinition)
    return assets


def test_models_have_layer_groups_owners_and_kinds(dbt_assets_def: dg.AssetsDefinition) -> None:
    specs = {key.to_user_string(): spec for key, spec in dbt_assets_def.specs_by_key.items()}
    expected_groups = {
        "staging/stg_matches": "staging",
        "staging/stg_odds": "staging",
        "staging/stg_fixtures": "staging",
        "intermediate/int_team_matches": "intermediate",
        "analytics/fct_matches": "analytics",
        "analytics/league_table": "analytics",
        "analytics/team_form": "analytics",
        "analytics/dim_teams": "analytics",
        "analytics/head_to_head": "analytics",
        "analytics/season_summary": "analytics",
        "reference/points_adjustments": "reference",
    }
    for key, group in expected_groups.items():
        assert specs[key].group_name == group, key
        assert set(specs[key].kinds) == {"dbt", "sql", "duckdb"}, key
    assert specs["analytics/league_table"].owners == ["team:analytics"]
    assert specs["staging/stg_matches"].owners == ["team:data-engineering"]
    assert all(spec.description for key, spec in specs.items() if key.startswith("analytics/"))


def test_sources_hang_off_the_ingestion_assets(dbt_assets_def: dg.AssetsDefinition) -> None:
    deps = {
        key.to_user_string(): {dep.asset_key.to_user_string() for dep in spec.deps}
        for key, spec in dbt_assets_def.specs_by_key.items()
    }
    assert "raw_matches" in deps["staging/stg_matches"]
    assert "raw_matches" in deps["staging/stg_odds"]  # raw.odds is written by the same asset
    assert "raw_fixtures" in deps["staging/stg_fixtures"]


def test_dbt_tests_are_asset_checks(dbt_assets_def: dg.AssetsDefinition) -> None:
    checks = {(c.asset_key.to_user_string(), c.name) for c in dbt_assets_def.check_specs}
    for name in (
        "assert_points_are_won_and_drawn_plus_adjustments",
        "assert_completed_seasons_have_equal_matches_per_team",
        "assert_goals_for_equal_goals_against_per_league_season",
        "assert_known_final_standings",
    ):
        assert ("analytics/league_table", name) in checks
    assert ("analytics/team_form", "assert_team_form_uses_only_earlier_matches") in checks
    assert any(key == "analytics/fct_matches" and name.startswith("unique_") for key, name in checks)


def test_dbt_op_uses_the_warehouse_pool(dbt_assets_def: dg.AssetsDefinition) -> None:
    assert dbt_assets_def.op.pool == "warehouse"
