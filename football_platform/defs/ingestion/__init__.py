"""Ingestion domain: season files and fixtures into the raw schema."""

import dagster as dg

from football_platform.defs.ingestion.assets import raw_fixtures, raw_matches

defs = dg.Definitions(assets=[raw_matches, raw_fixtures])
