"""Tests of the team alias seed and canonical names, checked against every real season file."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest

from football_platform.lib.teams import SEED_COLUMNS, SEED_PATH, canonical_team, load_aliases
from football_platform.settings import PROJECT_ROOT

FOOTBALL_DATA = PROJECT_ROOT.parent / "shared" / "data" / "football-data"


def _names_by_league() -> dict[str, dict[str, set[str]]]:
    """{div: {team name as the site spells it: seasons}} over every real season file."""
    names: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    files = sorted(FOOTBALL_DATA.glob("[0-9]*/*.csv"))
    assert len(files) == 186, f"expected the 186 real season files under {FOOTBALL_DATA}"
    for path in files:
        season, div = path.parent.name, path.stem
        raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        # Read independently of the parser: plain csv, rows without Div skipped.
        for row in csv.DictReader(io.StringIO(text, newline="")):
            if (row.get("Div") or "").strip():
                names[div][row["HomeTeam"].strip()].add(season)
                names[div][row["AwayTeam"].strip()].add(season)
    return names


@pytest.fixture(scope="module")
def names_by_league() -> dict[str, dict[str, set[str]]]:
    return _names_by_league()


def _fold(name: str) -> str:
    """Case, accents, spaces and punctuation removed: 'M'Gladbach' and 'M'gladbach' fold alike."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", plain)


def test_seed_is_plain_csv_dbt_can_load() -> None:
    with SEED_PATH.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == SEED_COLUMNS
    assert all(len(row) == 3 and all(v == v.strip() and v for v in row) for row in rows[1:])
    assert len(load_aliases()) == len(rows) - 1


def test_known_variants() -> None:
    assert canonical_team("D1", "M'Gladbach") == "M'gladbach"
    assert canonical_team("SP1", "Villareal") == "Villarreal"
    assert canonical_team("D1", "Dusseldorf") == "Fortuna Dusseldorf"  # Fortuna in the Bundesliga 1995-97
    # Different clubs stay apart: VfB Leipzig (1993/94) and RB Leipzig; AC Ajaccio and Gazelec Ajaccio.
    assert canonical_team("D1", "Leipzig") == "Leipzig"
    assert canonical_team("D1", "RB Leipzig") == "RB Leipzig"
    assert canonical_team("F1", "Ajaccio GFCO") == "Ajaccio GFCO"
    assert canonical_team("F1", "Ajaccio") == "Ajaccio"
    # Canonical and unknown names pass through; aliases are per league.
    assert canonical_team("D1", "M'gladbach") == "M'gladbach"
    assert canonical_team("E0", "Man United") == "Man United"
    assert canonical_team("E0", "M'Gladbach") == "M'Gladbach"
    assert canonical_team("SP1", " Villareal ") == "Villarreal"


def test_every_alias_is_real(names_by_league) -> None:
    """Each alias names a spelling the data really uses, mapped to one it also uses."""
    for (div, source), canonical in load_aliases().items():
        assert source in names_by_league[div], f"{div}: {source!r} never appears"
        assert canonical in names_by_league[div], f"{div}: {canonical!r} never appears"
        # a variant and its canonical name are never used in the same season (else they'd be two clubs)
        assert not names_by_league[div][source] & names_by_league[div][canonical], (div, source)


def test_no_spelling_variants_left(names_by_league) -> None:
    """After canonicalisation, no two names of a league differ only by case/accents/spacing/punctuation."""
    for div, names in names_by_league.items():
        folded: dict[str, set[str]] = defaultdict(set)
        for name in names:
            folded[_fold(canonical_team(div, name))].add(canonical_team(div, name))
        clashes = {k: v for k, v in folded.items() if len(v) > 1}
        assert not clashes, f"{div}: spelling variants without an alias: {clashes}"


def test_malformed_seeds_are_refused(tmp_path: Path) -> None:
    cases = {
        "bad_header.csv": "div,name,canonical\nD1,A,B\n",
        "duplicate.csv": "div,source_name,canonical_name\nD1,A,B\nD1,A,C\n",
        "self.csv": "div,source_name,canonical_name\nD1,A,A\n",
        "chain.csv": "div,source_name,canonical_name\nD1,A,B\nD1,B,C\n",
        "empty_field.csv": "div,source_name,canonical_name\nD1,,B\n",
    }
    for file_name, text in cases.items():
        path = tmp_path / file_name
        path.write_text(text)
        with pytest.raises(ValueError, match=re.escape(str(path))):
            load_aliases(path)
    good = tmp_path / "good.csv"
    good.write_text("div,source_name,canonical_name\r\nD1,A,B\r\n\r\n")
    assert load_aliases(good) == {("D1", "A"): "B"}
