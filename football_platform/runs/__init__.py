"""The command line's runs: the code location's Definitions executed in-process on the profile's Dagster instance.

:mod:`.inprocess` (ingest, run, backtest: one run per contiguous season range, outcome of ``batch_predictions``)
and :mod:`.replay` (the platform day by day over past dates). Above ``definitions`` and ``defs/`` in the layers;
nothing below imports it.
"""
