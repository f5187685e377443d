"""Canonical team names: one name per club per league across the site's spelling variants.

The alias table is the dbt seed ``dbt_project/seeds/team_aliases.csv`` (``div,source_name,canonical_name``),
so dbt's staging models and Python read the same file. Only variants are listed: a name without an
entry is already canonical. Raw tables keep the site's spelling; the parser never canonicalises.

Variants found by scanning every team name per league over 1993/94-2023/24 for names that differ only
by case, accents, spacing or punctuation, plus renamings checked by hand (``Dusseldorf`` in 1995-97 is
Fortuna Dusseldorf). Different clubs stay different: ``Leipzig`` (VfB, 1993/94) is not ``RB Leipzig``,
``Ajaccio`` (AC) is not ``Ajaccio GFCO`` (Gazelec).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

SEED_PATH = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "team_aliases.csv"
SEED_COLUMNS = ("div", "source_name", "canonical_name")


@lru_cache(maxsize=8)
def load_aliases(path: Path | None = None) -> dict[tuple[str, str], str]:
    """``{(div, source_name): canonical_name}`` from the seed; raises ValueError on a malformed seed."""
    path = Path(path) if path is not None else SEED_PATH
    aliases: dict[tuple[str, str], str] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != SEED_COLUMNS:
            raise ValueError(f"{path}: header must be {','.join(SEED_COLUMNS)}, got {header!r}")
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            line = reader.line_num
            if len(fields) != 3 or not all(f.strip() for f in fields):
                raise ValueError(f"{path}:{line}: expected 3 non-empty fields, got {fields!r}")
            div, source, canonical = (f.strip() for f in fields)
            if (div, source) in aliases:
                raise ValueError(f"{path}:{line}: duplicate alias for ({div}, {source})")
            if source == canonical:
                raise ValueError(f"{path}:{line}: {source!r} maps to itself")
            aliases[(div, source)] = canonical
    # A canonical name that is itself an alias would need two look-ups (and could loop).
    for (div, source), canonical in aliases.items():
        if (div, canonical) in aliases:
            raise ValueError(f"{path}: ({div}, {source}) -> {canonical!r}, which is itself an alias")
    return aliases


def canonical_team(div: str, name: str) -> str:
    """The canonical spelling of ``name`` in league ``div`` (the name itself when it has no alias)."""
    name = name.strip()
    return load_aliases().get((div, name), name)
