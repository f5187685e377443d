"""What every Dagster domain shares and no domain owns: asset keys, the season partitions, metadata helpers.

The Dagster-side forms of :mod:`football_platform.contracts`. A domain under ``defs/`` imports this package,
:mod:`football_platform.contracts`, ``lib/``, :mod:`football_platform.resources` and its own modules, never another
domain (``lint-imports`` enforces it, see pyproject.toml).
"""
