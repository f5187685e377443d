"""Secret-bearing resource fields (database, Redis, webhook URLs) as ``dg.EnvVar``.

Dagster shows an ``EnvVar`` field by the variable's name, never its value, and resolves it when a run starts. A
value that did not come from the process environment (a test's own :class:`~football_platform.settings.Settings`,
the local profile's defaults) is passed as it is.
"""

from __future__ import annotations

import dagster as dg

from football_platform.settings import Settings


def secret(settings: Settings, name: str) -> str | None:
    """``settings.<name>`` as ``dg.EnvVar(<the variable it was read from>)``, or the plain value."""
    variable = settings.env_source(name)
    return dg.EnvVar(variable) if variable else getattr(settings, name)


def resolved(value: str | None) -> str | None:
    """A field's value inside or outside a run: Dagster resolves an ``EnvVar`` field when it builds the resource
    for a run; a resource called directly (tests, the CLI) still holds the ``EnvVar``."""
    return value.get_value() if isinstance(value, dg.EnvVar) else value
