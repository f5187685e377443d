"""Metadata values every domain attaches to its materialisations, so the UI shows tables and plots alike."""

import base64
from pathlib import Path

import dagster as dg
import pandas as pd


def table_preview(frame: pd.DataFrame, rows: int = 10, cols: int | None = None, empty: str = "_empty_"
                  ) -> dg.MetadataValue:
    """The first ``rows`` rows (and ``cols`` columns) as a markdown table."""
    if frame.empty:
        return dg.MetadataValue.md(empty)
    shown = frame.iloc[:rows, :cols] if cols else frame.head(rows)
    return dg.MetadataValue.md(shown.to_markdown(index=False))


def image(path: Path, alt: str) -> dg.MetadataValue:
    """A PNG inlined in markdown (the UI renders it), with the file's path below for download."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{data})\n\n`{path}`")
