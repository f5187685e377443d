"""Transform: the dbt project (staging -> intermediate -> analytics) as Dagster assets.

For the code location::

    from football_platform.defs import transform
    transform.defs                                   # Definitions with the dbt assets (and their checks)
    transform.build_transform_defs(settings, with_resource=True)  # with the ``dbt`` resource bound

``defs`` is built on first access (it needs the dbt manifest, prepared at install
time), so importing this package never touches dbt.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from football_platform.defs.transform.assets import (
    DBT_ASSETS_NAME,
    DbtBuildConfig,
    ManifestMissingError,
    build_dbt_assets,
    dbt_build_args,
)
from football_platform.resources.dbt_cli import build_dbt_resource
from football_platform.settings import Settings, get_settings

DBT_RESOURCE_KEY = "dbt"

__all__ = [
    "DBT_ASSETS_NAME",
    "DBT_RESOURCE_KEY",
    "DbtBuildConfig",
    "ManifestMissingError",
    "build_dbt_assets",
    "build_transform_defs",
    "dbt_build_args",
]


def build_transform_defs(settings: Settings | None = None, with_resource: bool = False) -> dg.Definitions:
    """The dbt assets for a profile; ``with_resource`` also binds the ``dbt`` resource."""
    settings = settings or get_settings()
    resources = {DBT_RESOURCE_KEY: build_dbt_resource(settings)} if with_resource else {}
    return dg.Definitions(assets=[build_dbt_assets(settings.warehouse_kind)], resources=resources)


def __getattr__(name: str) -> Any:
    # `transform.defs` like the other domains, built lazily (see the module docstring).
    if name == "defs":
        return build_transform_defs()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
