"""Pure parser for football-data.co.uk CSV files: bytes in, validated DataFrames out.

No Dagster, no database: ingestion calls :func:`parse_results_file` (one ``<season>/<Div>.csv``) and
:func:`parse_fixtures_file` (the site's ``fixtures.csv``) and writes what they return.

Three outcomes, from worst to mildest:

* the whole file is refused with :class:`SourceFileRejected` (empty, binary, HTML, not a football-data CSV,
  month-first dates, foreign division, two different rows for the same match);
* a row is refused: it goes to ``rejected`` (one entry per problem found) and not to ``matches``
  (missing/bad goals or date, FTR contradicting the goals, empty or equal team names);
* a single value is refused: the match stays, that value becomes NULL (statistics, kick-off time) or that
  price is left out of the long-form odds (``odds must be > 1``), with an entry in ``rejected``.

``rejected`` therefore mixes row-level and value-level entries; ``n_rejected_rows`` counts refused rows.
Output types: dates are ``datetime.date`` objects, integers pandas ``Int64`` (NULL = ``pd.NA``), text
``object`` with ``None`` for NULL, prices and lines ``float64`` (line NaN for 1X2). An Asian handicap
``line`` is always the home team's handicap (``AHh``), for both the home and the away price.

Every quirk of the real files (shared/data/README.md) is handled here: BOM, cp1252/latin-1 bytes, CRLF/LF,
empty header names, comma-only rows, ragged rows, 30+ header layouts mapped by name, 2- and 4-digit years.
Raw tables keep the site's spelling of team names: canonicalisation is dbt's job (``teams.py`` + the seed).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

import numpy as np
import pandas as pd

from football_platform.lib import raw_schema
from football_platform.lib.seasons import season_start_year, season_window

REJECTED_COLUMNS: tuple[str, ...] = ("source_line", "column_name", "value", "reason")
MAX_GOALS = 15
# A handicap is a multiple of 0.25; beyond +-5 it is a price that slipped into the line column
# (0405/I1 LBAH holds 6.5 and 9).
MAX_AH_LINE = 5.0

# Reasons that other code (and tests) may match on.
REASON_ODDS = "odds must be > 1"
REASON_FTR = "ftr does not match goals"
REASON_AH_LINE = f"handicap line must be a multiple of 0.25 within +-{MAX_AH_LINE:g}; its prices dropped"
REASON_AH_NO_LINE = "asian handicap price without a handicap line; price dropped"


class SourceFileRejected(ValueError):
    """The whole file is refused; ``str(exc)`` is one line: ``'<source_file>: <reason>'``."""

    def __init__(self, source_file: str, reason: str) -> None:
        self.source_file = source_file
        self.reason = " ".join(str(reason).split())  # always one line, whatever the cause quoted
        super().__init__(f"{source_file}: {self.reason}")

    def __reduce__(self):  # keep it picklable across processes (custom __init__ signature)
        return (type(self), (self.source_file, self.reason))


@dataclass(frozen=True)
class ParsedResults:
    """One season file, validated. ``n_source_rows`` = data rows = ``len(matches)`` + rows rejected whole."""

    matches: pd.DataFrame  # raw_schema.MATCH_COLUMNS + source_line
    odds: pd.DataFrame  # raw_schema.ODDS_COLUMNS, long form
    rejected: pd.DataFrame  # REJECTED_COLUMNS; row-level and value-level problems
    n_source_rows: int

    @property
    def n_rejected_rows(self) -> int:
        """Data rows that did not become a match (value-level entries in ``rejected`` do not count)."""
        return self.n_source_rows - len(self.matches)


@dataclass(frozen=True)
class ParsedFixtures:
    """One ``fixtures.csv`` snapshot, filtered to the wanted divisions and validated."""

    fixtures: pd.DataFrame  # raw_schema.FIXTURE_COLUMNS + source_line
    odds: pd.DataFrame  # raw_schema.FIXTURE_ODDS_COLUMNS, long form
    rejected: pd.DataFrame  # REJECTED_COLUMNS
    n_source_rows: int = 0  # data rows of the wanted divisions

    @property
    def n_rejected_rows(self) -> int:
        return self.n_source_rows - len(self.fixtures)


# --------------------------------------------------------------------------------------------------
# Column names
# --------------------------------------------------------------------------------------------------

# Warehouse column -> source header names, first one present wins. The site's "new leagues" files
# use Home/Away/HG/AG/Res instead of HomeTeam/AwayTeam/FTHG/FTAG/FTR; all six main leagues here use
# the long names in every season, but accepting both costs nothing.
MATCH_SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "div": ("Div",),
    "match_date": ("Date",),
    "kickoff_time": ("Time",),
    "home_team": ("HomeTeam", "Home"),
    "away_team": ("AwayTeam", "Away"),
    "fthg": ("FTHG", "HG"),
    "ftag": ("FTAG", "AG"),
    "ftr": ("FTR", "Res"),
    "hthg": ("HTHG",),
    "htag": ("HTAG",),
    "htr": ("HTR",),
    "referee": ("Referee",),
    "attendance": ("Attendance",),
    "home_shots": ("HS",),
    "away_shots": ("AS",),
    "home_shots_on_target": ("HST",),
    "away_shots_on_target": ("AST",),
    "home_hit_woodwork": ("HHW",),
    "away_hit_woodwork": ("AHW",),
    "home_corners": ("HC",),
    "away_corners": ("AC",),
    "home_fouls": ("HF",),
    "away_fouls": ("AF",),
    "home_offsides": ("HO",),
    "away_offsides": ("AO",),
    "home_yellow": ("HY",),
    "away_yellow": ("AY",),
    "home_red": ("HR",),
    "away_red": ("AR",),
}
# Not loaded (no warehouse column): HBP/ABP booking points (2000-02), HFKC/AFKC free kicks conceded.

_HALF_TIME_GOALS = ("hthg", "htag")
_COUNT_STATS = tuple(
    c
    for c in raw_schema.MATCH_STAT_COLUMNS
    if raw_schema.MATCH_STAT_COLUMNS[c] == "INTEGER" and c not in _HALF_TIME_GOALS
)

# Columns read as text (stripped); every other column is a number.
_TEXT_TARGETS = ("div", "match_date", "kickoff_time", "home_team", "away_team", "fthg", "ftag", "ftr", "htr", "referee")
_TEXT_SOURCE_NAMES = frozenset(name for target in _TEXT_TARGETS for name in MATCH_SOURCE_COLUMNS[target])

# Bookmaker codes as the site prefixes them. One code per book across eras: the site writes Pinnacle
# as 'PS' in 1X2 columns (PSH, PSCH) but 'P' in over/under and Asian handicap columns (P>2.5, PAHH,
# PC>2.5, PCAHH) and in its "new leagues" files (PH): both become 'PS'. Betbrain's aggregates (BbAv, BbMx,
# 2005/06-2018/19) are a different panel of books from the site's own market Avg/Max (2019/20 on) and
# stay distinct.
BOOKMAKERS: dict[str, str] = {
    "B365": "Bet365",
    "BW": "Bet&Win",
    "IW": "Interwetten",
    "LB": "Ladbrokes",
    "PS": "Pinnacle",
    "WH": "William Hill",
    "VC": "VC Bet",
    "SJ": "Stan James",
    "GB": "Gamebookers",
    "SB": "Sportingbet",
    "SO": "Sporting Odds",
    "BS": "Blue Square",
    "SY": "Stanleybet",
    "1XB": "1XBet",
    "BF": "Betfair",
    "BFD": "Betfred",
    "BMGM": "BetMGM",
    "BV": "BetVictor",
    "CL": "Coral",
    "BFE": "Betfair Exchange",
    "Max": "market maximum (site, 2019/20 on)",
    "Avg": "market average (site, 2019/20 on)",
    "BbMx": "Betbrain maximum (2005/06-2018/19)",
    "BbAv": "Betbrain average (2005/06-2018/19)",
}
BOOKMAKER_ALIASES: dict[str, str] = {"P": "PS"}  # source prefix -> normalised code (others map to themselves)
_KNOWN_PREFIXES = frozenset(BOOKMAKERS) | frozenset(BOOKMAKER_ALIASES)

# Columns that look like prices but are not: numbers of books in Betbrain's panel, handicap sizes.
COUNT_COLUMNS = frozenset({"Bb1X2", "BbOU", "BbAH"})
AH_LINE_PRE = ("BbAHh", "AHh")  # market handicap size (home team), 2005/06-2018/19 and 2019/20 on
AH_LINE_CLOSE = ("AHCh",)

# Overround 1/H + 1/D + 1/A outside these bounds marks a 1X2 triple as untrustworthy (kept, flagged).
OVERROUND_BOUNDS = (1.0, 1.15)
# A market maximum takes each selection's best price from a different book, so its overround is below
# 1 by construction (median 0.995 for MaxC in 2019-24); only clearly broken triples are flagged there.
MARKET_MAX_OVERROUND_BOUNDS = (0.9, 1.15)
MARKET_MAX_BOOKMAKERS = frozenset({"Max", "BbMx"})
OVERROUND_FLAG = "overround_out_of_range"

_AH_RE = re.compile(r"^(?P<prefix>.+)AH(?P<sel>[HA])$")
_OU_RE = re.compile(r"^(?P<prefix>.+)(?P<sel>[<>])2\.5$")
_1X2_RE = re.compile(r"^(?P<prefix>.+)(?P<sel>[HDA])$")
_GENERIC_PREFIX_RE = re.compile(r"^[A-Z0-9][A-Za-z0-9]*$")


@dataclass(frozen=True)
class OddsColumn:
    """How one source column maps to the long-form odds table."""

    column: str
    bookmaker: str
    market: str  # '1x2' | 'ou25' | 'ah'
    period: str  # 'pre' | 'close'
    selection: str
    line: float | None = None  # fixed line (2.5 for over/under)
    line_column: str | None = None  # where the handicap comes from (Asian handicap)


def _resolve_bookmaker(prefix: str, names: frozenset[str], suffixes: tuple[str, ...]) -> tuple[str, str] | None:
    """``'PSC'`` -> ``('PS', 'close')``; ``None`` when the prefix is not a bookmaker."""
    if prefix in _KNOWN_PREFIXES:
        return BOOKMAKER_ALIASES.get(prefix, prefix), "pre"
    if prefix.endswith("C") and prefix[:-1] in _KNOWN_PREFIXES:
        return BOOKMAKER_ALIASES.get(prefix[:-1], prefix[:-1]), "close"
    # A book the site added after this code was written: accept it only when the complete set of
    # selections is there (XH, XD, XA), which no statistics column (HS, HC, HTHG...) ever forms.
    if not _GENERIC_PREFIX_RE.match(prefix) or not all(prefix + s in names for s in suffixes):
        return None
    if len(prefix) > 1 and prefix.endswith("C") and all(prefix[:-1] + s in names for s in suffixes):
        return prefix[:-1], "close"
    return prefix, "pre"


@lru_cache(maxsize=512)
def discover_odds_columns(names: tuple[str, ...]) -> tuple[OddsColumn, ...]:
    """Every price column of a header, generically: ``<book>[C]<H|D|A>``, ``<book>[C]<>|<>2.5``,
    ``<book>[C]AH<H|A>`` (the ``C`` marks closing odds). Header names must already be stripped."""
    name_set = frozenset(names)
    found: list[OddsColumn] = []
    for name in names:
        if not name or name in COUNT_COLUMNS:
            continue
        if m := _AH_RE.match(name):
            book = _resolve_bookmaker(m["prefix"], name_set, ("AHH", "AHA"))
            if book is None:
                continue
            raw_prefix = m["prefix"][:-1] if book[1] == "close" else m["prefix"]
            # 2003-05 files give each book its own handicap (B365AH, GBAH, LBAH) before the market one.
            candidates = (raw_prefix + "AH", *AH_LINE_PRE) if book[1] == "pre" else AH_LINE_CLOSE
            line_column = next((c for c in candidates if c in name_set), None)
            selection = "home" if m["sel"] == "H" else "away"
            found.append(OddsColumn(name, book[0], "ah", book[1], selection, None, line_column))
        elif m := _OU_RE.match(name):
            book = _resolve_bookmaker(m["prefix"], name_set, (">2.5", "<2.5"))
            if book is None:
                continue
            selection = "over" if m["sel"] == ">" else "under"
            found.append(OddsColumn(name, book[0], "ou25", book[1], selection, 2.5))
        elif m := _1X2_RE.match(name):
            book = _resolve_bookmaker(m["prefix"], name_set, ("H", "D", "A"))
            if book is None:
                continue
            found.append(OddsColumn(name, book[0], "1x2", book[1], m["sel"]))
    # One source column per (book, market, period, selection): if the site ever printed Pinnacle both
    # as 'PS' and 'P' in one market, the first column wins.
    seen: set[tuple[str, str, str, str]] = set()
    unique: list[OddsColumn] = []
    for oc in found:
        key = (oc.bookmaker, oc.market, oc.period, oc.selection)
        if key not in seen:
            seen.add(key)
            unique.append(oc)
    return tuple(unique)


# --------------------------------------------------------------------------------------------------
# Bytes -> text -> table
# --------------------------------------------------------------------------------------------------

_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive or .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"%PDF", "a PDF document"),
)


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode_source(content: bytes, source_file: str) -> str:
    """Bytes -> text. UTF-8 (BOM stripped), else cp1252, else latin-1; UTF-16 only with its BOM."""
    if not content.strip():
        raise SourceFileRejected(source_file, "empty file")
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # A CSV re-saved as "Unicode text": unambiguous thanks to the BOM, so decoded rather than refused.
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SourceFileRejected(source_file, f"invalid UTF-16 text ({exc.reason} at byte {exc.start})") from exc
    else:
        for magic, what in _BINARY_MAGIC:
            if content.startswith(magic):
                raise SourceFileRejected(source_file, f"binary content ({what}), not a CSV text file")
        nul = content.find(b"\x00")
        if nul >= 0:
            raise SourceFileRejected(source_file, f"binary content (NUL byte at offset {nul}), not a CSV text file")
        body = content[len(codecs.BOM_UTF8) :] if content.startswith(codecs.BOM_UTF8) else content
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = body.decode("cp1252")
            except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8D, ...)
                text = body.decode("latin-1")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise SourceFileRejected(source_file, "empty file")
    head = text.lstrip()[:1024].lower()
    if head.startswith("<") or "<html" in head or "<!doctype" in head:
        raise SourceFileRejected(source_file, "HTML page instead of CSV (an error or login page?)")
    sample = text[:8192]
    controls = len(_CONTROL_RE.findall(sample))
    if controls > max(2, len(sample) // 200):
        raise SourceFileRejected(source_file, f"binary content ({controls} control characters), not a CSV text file")
    return text


# --------------------------------------------------------------------------------------------------
# Text -> table
# --------------------------------------------------------------------------------------------------
# Files are small (a few hundred rows), so pandas' per-call overhead (~0.3 ms a Series operation)
# would dominate: the csv module splits rows, one numpy object matrix holds the strings, row checks
# run over Python lists with values parsed once per distinct string (memoised), and the wide blocks
# (odds, statistics) are converted with numpy. pandas only assembles the results.


@dataclass(frozen=True)
class _Table:
    names: tuple[str, ...]  # named header columns, in file order (empty names dropped)
    index: dict[str, int]  # name -> position in each row
    matrix: np.ndarray  # object array of strings (text columns stripped): rows with content x named columns
    rows: list[list[str]]  # the same as Python lists (fast single-value access)
    lines: list[int]  # 1-based physical line of each row (the header is line 1 in a normal file)
    nfields: list[int]  # fields the physical row really had, before padding
    width: int  # fields in the header


def _split_table(text: str, source_file: str) -> _Table:
    """CSV text -> table of strings (text columns stripped): ragged rows padded/truncated to the header, empty-named
    columns and rows without any content (``,,,,``) dropped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for fields in reader:
        if any(f.strip() for f in fields):
            header = [f.strip().lstrip("\ufeff").strip() for f in fields]
            break
    if header is None:
        raise SourceFileRejected(source_file, "empty file")
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        sep = next(sep for sep in ";\t|" if sep in header[0])
        raise SourceFileRejected(source_file, f"not a football-data CSV: header is separated by {sep!r}, not commas")
    header_line = reader.line_num
    width = len(header)
    keep: dict[str, int] = {}
    for i, name in enumerate(header):
        if name and name not in keep:  # a repeated name: the first occurrence wins
            keep[name] = i
    if '"' in text:  # a quoted field may span lines: ask the reader for each row's line
        body, lines_all = [], []
        for fields in reader:
            body.append(fields)
            lines_all.append(reader.line_num)
    else:  # one record per physical line (blank lines come back as [])
        body = list(reader)
        lines_all = range(header_line + 1, header_line + 1 + len(body))
    nfields_all = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    pad = [""] * width
    # Short rows are padded, long ones cut (0304/E0: 72 fields under 57 names, the extras always empty).
    fixed = [r if len(r) == width else (r[:width] if len(r) > width else r + pad[len(r) :]) for r in body]
    matrix = np.empty((len(fixed), width), dtype=object)
    if fixed:
        matrix[:] = fixed
    if list(keep.values()) != list(range(width)):  # drop empty-named (1990s) and repeated columns
        matrix = matrix[:, list(keep.values())]
    names = tuple(keep)
    # Strip the text columns only (referees carry trailing spaces, 0405/E0 a leading no-break space);
    # numbers need no stripping: float() ignores surrounding whitespace (see _float_matrix).
    text_positions = [j for j, name in enumerate(names) if name in _TEXT_SOURCE_NAMES]
    for j in text_positions:
        matrix[:, j] = _strip_cells(matrix[:, j])
    # Content check on the first column (Div) first; only rows without it need a look at every cell.
    has_content = matrix[:, 0] != "" if matrix.size else np.zeros(len(matrix), dtype=bool)
    empty_first = np.flatnonzero(~has_content)
    if len(empty_first):
        has_content[empty_first] = (matrix[empty_first] != "").any(axis=1)
    # A row whose only "content" is whitespace in number columns is as empty as a row of commas.
    for i in np.flatnonzero(has_content & (matrix[:, text_positions] == "").all(axis=1)):
        has_content[i] = any(str(v).strip() for v in matrix[i])
    matrix = matrix[has_content]
    return _Table(
        names=names,
        index={name: i for i, name in enumerate(names)},
        matrix=matrix,
        rows=matrix.tolist(),
        lines=np.asarray(lines_all, dtype=np.int64)[has_content].tolist(),
        nfields=nfields_all[has_content].tolist(),
        width=width,
    )


_strip_cells = np.frompyfunc(str.strip, 1, 1)


# --------------------------------------------------------------------------------------------------
# Single values (memoised: a season has ~100 distinct dates and small integers repeat endlessly)
# --------------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
_TIME_RE = re.compile(r"^(\d{1,2})[:.](\d{2})(?::\d{2})?$")


def _make_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def _read_date(value: str, season: str | None) -> tuple[dt.date | None, dt.date | None]:
    """``value`` read day-first and month-first (None where impossible). Two-digit years take the
    century nearest the season ('93' -> 1993 in 9394, '05' -> 2005 in 0405)."""
    m = _DATE_RE.match(value)
    if m is None:
        return None, None
    first, second, year_text = int(m[1]), int(m[2]), m[3]
    year = int(year_text)
    if len(year_text) == 2:
        if season is None:
            year += 2000 if year < 70 else 1900
        else:
            start = season_start_year(season)
            year += start - start % 100
            if year - start > 50:
                year -= 100
            elif start - year > 50:
                year += 100
    return _make_date(year, second, first), _make_date(year, first, second)


@lru_cache(maxsize=4096)
def _read_time(value: str) -> str | None:
    """``'20:00'``, ``'9:30'``, ``'15:00:00'`` -> ``'HH:MM'``; None if not a time of day."""
    m = _TIME_RE.match(value)
    if m is None or int(m[1]) > 23 or int(m[2]) > 59:
        return None
    return f"{int(m[1]):02d}:{m[2]}"


@lru_cache(maxsize=65536)
def _read_int(value: str) -> int | None:
    """Whole number ('2', '-1' or '2.0'); None if not one."""
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _to_float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return np.nan


_to_float_ufunc = np.frompyfunc(_to_float, 1, 1)


def _float_matrix(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object array of unstripped strings -> (floats, NaN where empty or not a number; non-empty mask)."""
    present = cells != ""
    try:
        values = np.where(present, cells, "nan").astype(np.float64)  # float() ignores surrounding spaces
    except ValueError:  # a whitespace-only cell or something not a number: the slower cell-wise path
        stripped = _strip_cells(cells)
        present = stripped != ""
        values = _to_float_ufunc(np.where(present, stripped, "nan")).astype(np.float64)
    values[~np.isfinite(values)] = np.nan  # 'inf' is no price either
    return values, present


# --------------------------------------------------------------------------------------------------
# Shared steps
# --------------------------------------------------------------------------------------------------

_Reject = tuple[int, str | None, str | None, str]  # source_line, column_name, value, reason


def _rejected_frame(entries: list[_Reject]) -> pd.DataFrame:
    entries = sorted(entries, key=lambda e: e[0])  # stable: file order, checks in order within a row
    columns = list(zip(*entries, strict=True)) if entries else [(), (), (), ()]
    return pd.DataFrame(
        {
            "source_line": np.asarray(columns[0], dtype=np.int64),
            "column_name": np.asarray(columns[1], dtype=object),
            "value": np.asarray(columns[2], dtype=object),
            "reason": np.asarray(columns[3], dtype=object),
        }
    )


def _source_column(names: Iterable[str], target: str) -> str | None:
    present = set(names)
    return next((c for c in MATCH_SOURCE_COLUMNS[target] if c in present), None)


def _require_columns(table: _Table, source_file: str, targets: tuple[str, ...], what: str) -> dict[str, str]:
    found = {t: _source_column(table.names, t) for t in targets}
    missing = [MATCH_SOURCE_COLUMNS[t][0] for t, col in found.items() if col is None]
    if missing:
        shown = ",".join(table.names[:12]) + (",..." if len(table.names) > 12 else "")
        raise SourceFileRejected(
            source_file, f"not a football-data {what} file: missing column(s) {', '.join(missing)} (header: {shown})"
        )
    return {t: col for t, col in found.items() if col is not None}


def _dedupe(
    table: _Table, order: list[int], key_positions: list[int], source_file: str, rejects: list[_Reject]
) -> list[int]:
    """Rows of ``order`` to keep: an exact repeat of an earlier row is dropped (and reported); two
    different rows for the same key mean the file contradicts itself, and it is refused."""
    rows, lines = table.rows, table.lines
    key_of = itemgetter(*key_positions)
    first_with_key: dict[tuple[str, ...], int] = {}
    incomplete: dict[tuple[str, ...], int] = {}  # rows with an empty key part (refused later anyway)
    kept: list[int] = []
    for i in order:
        row = rows[i]
        key = key_of(row)
        if all(key):
            j = first_with_key.setdefault(key, i)
            if j == i:
                kept.append(i)
            elif rows[j] == row:
                rejects.append((lines[i], None, None, f"exact duplicate of line {lines[j]}"))
            else:
                div, home, away, *rest = key
                label = f"{home} v {away}" + (f" on {rest[0]}" if rest else "") + f" ({div})"
                raise SourceFileRejected(
                    source_file,
                    f"conflicting duplicate rows for {label} (lines {lines[j]} and {lines[i]}): "
                    "the same match twice with different content",
                )
        else:
            whole = tuple(row)
            j = incomplete.setdefault(whole, i)
            if j == i:
                kept.append(i)
            else:
                rejects.append((lines[i], None, None, f"exact duplicate of line {lines[j]}"))
    return kept


def _date_checker(
    values: Iterable[str], first_line_of: dict[str, int], season: str | None, source_file: str
) -> dict[str, tuple[dt.date | None, str | None]]:
    """Day-first date (or the reason it is refused) for each distinct value; refuses a file whose dates
    only make sense month-first."""
    window = season_window(season) if season is not None else None
    readings: dict[str, tuple[dt.date | None, bool, bool]] = {}
    only_mf: list[str] = []
    proves_df = False
    for value in values:
        day_first, month_first = _read_date(value, season)
        df_ok, mf_ok = day_first is not None, month_first is not None
        if window is not None:
            df_ok = df_ok and window[0] <= day_first <= window[1]
            mf_ok = mf_ok and window[0] <= month_first <= window[1]
        readings[value] = (day_first, df_ok, mf_ok)
        if mf_ok and not df_ok:
            only_mf.append(value)
        proves_df = proves_df or (df_ok and not mf_ok)
    # A month-first date always has a valid in-season reading, so a value that fits only day-first
    # proves the file is day-first; then values fitting only month-first are single bad rows.
    if only_mf and not proves_df:
        example = min(only_mf, key=lambda v: first_line_of[v])
        raise SourceFileRejected(
            source_file,
            f"dates are month-first (e.g. {example!r} on line {first_line_of[example]}); expected day-first dd/mm/yy",
        )
    out: dict[str, tuple[dt.date | None, str | None]] = {}
    for value, (day_first, df_ok, _mf_ok) in readings.items():
        if df_ok:
            out[value] = (day_first, None)
        elif not value:
            out[value] = (None, "missing date")
        elif day_first is None:
            out[value] = (None, "unparseable date (expected dd/mm/yy or dd/mm/yyyy)")
        else:
            out[value] = (None, f"date outside season {season} ({window[0]} to {window[1]})")  # type: ignore[index]
    return out


def _dates_for(table: _Table, order: list[int], pos: int, season: str | None, source_file: str):
    first_line_of: dict[str, int] = {}
    for i in order:
        first_line_of.setdefault(table.rows[i][pos], table.lines[i])
    return _date_checker(first_line_of, first_line_of, season, source_file)


def _short_note(table: _Table):
    """``note(i)``: ' (row has only 5 of 106 fields: truncated?)' for a short row, '' otherwise."""

    def note(i: int) -> str:
        n = table.nfields[i]
        return f" (row has only {n} of {table.width} fields: truncated?)" if n < table.width else ""

    return note


# --------------------------------------------------------------------------------------------------
# Columns of the accepted rows (vectorised over the object matrix of their strings)
# --------------------------------------------------------------------------------------------------


def _int_columns(
    matrix: np.ndarray, lines: np.ndarray, wanted: list[tuple[str, str, int]], rejects: list[_Reject]
) -> dict[str, pd.arrays.IntegerArray]:
    """Half-time goals and statistics: non-negative integers, NULL where empty or bad (bad ones reported)."""
    out: dict[str, pd.arrays.IntegerArray] = {}
    if not wanted:
        return out
    cells = matrix[:, [p for _, _, p in wanted]]
    values, present = _float_matrix(cells)
    limits = np.array([MAX_GOALS if t in _HALF_TIME_GOALS else np.inf for t, _, _ in wanted])
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (values >= 0) & (np.mod(values, 1) == 0) & (values <= limits)
    for r, c in zip(*np.nonzero(present & ~ok), strict=True):
        target, col, _ = wanted[c]
        rule = f"an integer between 0 and {MAX_GOALS}" if target in _HALF_TIME_GOALS else "a non-negative integer"
        rejects.append((int(lines[r]), col, cells[r, c].strip(), f"must be {rule}; value dropped"))
    ints = np.where(ok, values, 0).astype(np.int64)
    for c, (target, _, _) in enumerate(wanted):
        out[target] = pd.arrays.IntegerArray(ints[:, c].copy(), ~ok[:, c])
    return out


def _text_column(matrix: np.ndarray, position: int | None) -> np.ndarray:
    if position is None:
        return np.full(len(matrix), None, dtype=object)
    col = matrix[:, position]
    return np.where(col == "", None, col)


def _result_code_column(
    matrix: np.ndarray, lines: np.ndarray, position: int | None, column: str | None, rejects: list[_Reject]
) -> np.ndarray:
    """HTR: 'H', 'D' or 'A'; anything else dropped (reported)."""
    out = np.full(len(matrix), None, dtype=object)
    if position is None:
        return out
    for r, text in enumerate(matrix[:, position]):
        code = text.upper()
        if code in ("H", "D", "A"):
            out[r] = code
        elif code:
            rejects.append((int(lines[r]), column, text, "htr must be H, D or A; value dropped"))
    return out


def _kickoff_column(
    matrix: np.ndarray, lines: np.ndarray, position: int | None, column: str | None, rejects: list[_Reject]
) -> np.ndarray:
    out = np.full(len(matrix), None, dtype=object)
    if position is None:
        return out
    for r, text in enumerate(matrix[:, position]):
        if text:
            out[r] = _read_time(text)
            if out[r] is None:
                rejects.append((int(lines[r]), column, text, "kick-off time must be HH:MM; value dropped"))
    return out


# --------------------------------------------------------------------------------------------------
# Odds
# --------------------------------------------------------------------------------------------------


def _extract_odds(
    table: _Table, matrix: np.ndarray, lines: np.ndarray, keys: dict[str, np.ndarray], rejects: list[_Reject]
) -> pd.DataFrame:
    """Long-form odds of the accepted rows (``matrix``); ``keys`` holds the key columns, one value per row."""
    specs = discover_odds_columns(table.names)
    n = len(matrix)
    if not specs or n == 0:
        none = np.empty(0, dtype=np.intp)
        return _odds_frame(keys, specs, none, none, np.empty(0), np.empty(0), np.empty(0, dtype=bool))
    cells = matrix[:, [table.index[s.column] for s in specs]]
    values, present = _float_matrix(cells)
    with np.errstate(invalid="ignore"):
        usable = present & (values > 1.0)  # NaN (not a number) compares False
    for r, c in zip(*np.nonzero(present & ~usable), strict=True):
        rejects.append((int(lines[r]), specs[c].column, cells[r, c].strip(), REASON_ODDS))

    # Lines: 2.5 for over/under; per row from the handicap column for Asian handicap.
    line = np.full(values.shape, np.nan)
    line_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for j, spec in enumerate(specs):
        if spec.line is not None:
            line[:, j] = spec.line
        if spec.market != "ah":
            continue
        if spec.line_column is None:
            line_values, line_present = np.full(n, np.nan), np.zeros(n, dtype=bool)
        elif spec.line_column in line_cache:
            line_values, line_present = line_cache[spec.line_column]
        else:
            raw = matrix[:, table.index[spec.line_column]]
            parsed, line_present_2d = _float_matrix(raw[:, None])
            line_values, line_present = parsed[:, 0], line_present_2d[:, 0]
            with np.errstate(invalid="ignore"):
                valid = (
                    np.isfinite(line_values) & (np.abs(line_values) <= MAX_AH_LINE) & (np.mod(line_values * 4, 1) == 0)
                )
            for r in np.flatnonzero(line_present & ~valid):
                rejects.append((int(lines[r]), spec.line_column, raw[r].strip(), REASON_AH_LINE))
            line_values = np.where(valid, line_values, np.nan)
            line_cache[spec.line_column] = line_values, line_present
        for r in np.flatnonzero(usable[:, j] & ~line_present):
            rejects.append((int(lines[r]), spec.column, cells[r, j].strip(), REASON_AH_NO_LINE))
        usable[:, j] &= np.isfinite(line_values)
        line[:, j] = line_values

    # Overround of each complete 1X2 triple: kept but flagged when outside the bounds.
    flagged = np.zeros(values.shape, dtype=bool)
    triples: dict[tuple[str, str], dict[str, int]] = {}
    for j, spec in enumerate(specs):
        if spec.market == "1x2":
            triples.setdefault((spec.bookmaker, spec.period), {})[spec.selection] = j
    for (book, _period), sel in triples.items():
        if len(sel) != 3:
            continue
        idx = [sel["H"], sel["D"], sel["A"]]
        complete = usable[:, idx].all(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            overround = (1.0 / values[:, idx]).sum(axis=1)
        low, high = MARKET_MAX_OVERROUND_BOUNDS if book in MARKET_MAX_BOOKMAKERS else OVERROUND_BOUNDS
        flagged[:, idx] |= (complete & ((overround < low) | (overround > high)))[:, None]

    rows, cols = np.nonzero(usable)
    return _odds_frame(keys, specs, rows, cols, line[rows, cols], values[rows, cols], flagged[rows, cols])


def _odds_frame(
    keys: dict[str, np.ndarray],
    specs: tuple[OddsColumn, ...],
    rows: np.ndarray,
    cols: np.ndarray,
    line: np.ndarray,
    price: np.ndarray,
    flagged: np.ndarray,
) -> pd.DataFrame:
    """Assemble the long-form frame from one object block (much faster than many object columns)."""
    names = [*keys, "bookmaker", "market", "period", "selection", "flag"]
    block = np.empty((len(rows), len(names)), dtype=object)
    for c, values in enumerate(keys.values()):
        block[:, c] = np.asarray(values, dtype=object)[rows]
    if len(rows):
        for offset, attr in enumerate(("bookmaker", "market", "period", "selection")):
            block[:, len(keys) + offset] = np.array([getattr(s, attr) for s in specs], dtype=object)[cols]
    block[:, -1] = np.where(flagged, OVERROUND_FLAG, None)
    frame = pd.DataFrame(block, columns=names, dtype=object, copy=False)  # dtype given: no type inference
    # insert() adds blocks without copying the others: the result is already in raw_schema order
    # (keys, bookmaker, market, period, selection, line, price, flag).
    frame.insert(len(keys) + 4, "line", np.asarray(line, dtype=np.float64))
    frame.insert(len(keys) + 5, "price", np.asarray(price, dtype=np.float64))
    return frame


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def _check_core(
    table: _Table,
    order: list[int],
    cols: dict[str, str],
    pos: dict[str, int],
    dates: dict[str, tuple[dt.date | None, str | None]],
    rejects: list[_Reject],
    with_result: bool,
    ftr_col: str | None = None,
) -> tuple[list[int], list[dt.date], list[int], list[int], list[str]]:
    """Row-level checks (date, teams and, for results, goals and FTR). Returns the accepted rows and
    their date, fthg, ftag, ftr; a refused row gets one ``rejects`` entry per problem."""
    rows, lines = table.rows, table.lines
    p_date, p_home, p_away = pos["match_date"], pos["home_team"], pos["away_team"]
    p_hg, p_ag = pos.get("fthg"), pos.get("ftag")
    p_ftr = table.index[ftr_col] if ftr_col else None
    note = _short_note(table)
    accepted: list[int] = []
    out_dates: list[dt.date] = []
    out_hg: list[int] = []
    out_ag: list[int] = []
    out_ftr: list[str] = []
    for i in order:
        row, line = rows[i], lines[i]
        n_before = len(rejects)
        match_date, problem = dates[row[p_date]]
        if problem:
            rejects.append((line, cols["match_date"], row[p_date] or None, problem + note(i)))
        home, away = row[p_home], row[p_away]
        if not home:
            rejects.append((line, cols["home_team"], None, "empty team name" + note(i)))
        if not away:
            rejects.append((line, cols["away_team"], None, "empty team name" + note(i)))
        if home and home == away:
            rejects.append((line, cols["away_team"], away, "home team equals away team"))
        if with_result:
            goals: list[int | None] = []
            for target, p in (("fthg", p_hg), ("ftag", p_ag)):
                text = row[p]
                value = _read_int(text) if text else None
                if not text:
                    rejects.append((line, cols[target], None, "missing full-time goals" + note(i)))
                elif value is None:
                    rejects.append((line, cols[target], text, "goals must be an integer"))
                elif not 0 <= value <= MAX_GOALS:
                    rejects.append((line, cols[target], text, f"goals must be between 0 and {MAX_GOALS}"))
                    value = None
                goals.append(value)
            hg, ag = goals
            expected = None if hg is None or ag is None else ("H" if hg > ag else "D" if hg == ag else "A")
            given = row[p_ftr].upper() if p_ftr is not None else ""
            if given and given not in ("H", "D", "A"):
                rejects.append((line, ftr_col, row[p_ftr], "ftr must be H, D or A"))
            elif given and expected is not None and given != expected:
                rejects.append((line, ftr_col, row[p_ftr], REASON_FTR))
        if len(rejects) > n_before:
            continue  # row refused: every problem found is recorded above
        accepted.append(i)
        out_dates.append(match_date)  # type: ignore[arg-type]
        if with_result:
            out_hg.append(hg)  # type: ignore[arg-type]
            out_ag.append(ag)  # type: ignore[arg-type]
            out_ftr.append(given or expected)  # type: ignore[arg-type]  # FTR missing: the goals define it
    return accepted, out_dates, out_hg, out_ag, out_ftr


def _accepted_matrix(table: _Table, accepted: list[int]) -> tuple[np.ndarray, np.ndarray]:
    index = np.asarray(accepted, dtype=np.intp)
    return table.matrix[index], np.asarray(table.lines, dtype=np.int64)[index]


def parse_results_file(content: bytes, source_file: str, season: str, div: str | None = None) -> ParsedResults:
    """Parse one season file (``<season>/<Div>.csv``).

    ``season`` comes from the file's location (never from its dates); ``div``, when given, must be the
    only division in the file. Raises :class:`SourceFileRejected` for a file that cannot be trusted whole.
    """
    try:
        season_start_year(season)
    except ValueError as exc:
        raise SourceFileRejected(source_file, f"bad season code: {exc}") from exc
    table = _split_table(decode_source(content, source_file), source_file)
    cols = _require_columns(
        table, source_file, ("div", "match_date", "home_team", "away_team", "fthg", "ftag"), "results"
    )
    pos = {target: table.index[col] for target, col in cols.items()}
    rejects: list[_Reject] = []

    # Comma-only rows are already gone; a row with content but no Div cannot be placed: refused.
    order: list[int] = []
    for i, row in enumerate(table.rows):
        if row[pos["div"]]:
            order.append(i)
        else:
            rejects.append((table.lines[i], cols["div"], None, "row without Div"))
    n_source_rows = len(table.rows)

    divisions = sorted({table.rows[i][pos["div"]] for i in order})
    if div is not None and divisions and divisions != [div]:
        raise SourceFileRejected(source_file, f"Div column holds {', '.join(divisions)}, expected only {div}")
    if len(divisions) > 1:
        raise SourceFileRejected(source_file, f"mixed divisions in one results file: {', '.join(divisions)}")

    order = _dedupe(table, order, [pos["div"], pos["home_team"], pos["away_team"]], source_file, rejects)
    dates = _dates_for(table, order, pos["match_date"], season, source_file)
    ftr_col = _source_column(table.names, "ftr")
    accepted, match_dates, fthg, ftag, ftr = _check_core(table, order, cols, pos, dates, rejects, True, ftr_col)

    matrix, lines = _accepted_matrix(table, accepted)
    n = len(accepted)

    def position(target: str) -> int | None:
        col = _source_column(table.names, target)
        return None if col is None else table.index[col]

    def column(target: str) -> str | None:
        return _source_column(table.names, target)

    wanted_ints = [
        (target, col, table.index[col])
        for target in (*_HALF_TIME_GOALS, *_COUNT_STATS)
        if (col := column(target)) is not None
    ]
    ints = _int_columns(matrix, lines, wanted_ints, rejects)
    keys = {
        "div": matrix[:, pos["div"]],
        "season": np.full(n, season, dtype=object),
        "home_team": matrix[:, pos["home_team"]],
        "away_team": matrix[:, pos["away_team"]],
    }
    data: dict[str, object] = {
        **keys,
        "match_date": np.asarray(match_dates, dtype=object),
        "kickoff_time": _kickoff_column(matrix, lines, position("kickoff_time"), column("kickoff_time"), rejects),
        "fthg": pd.arrays.IntegerArray(np.asarray(fthg, dtype=np.int64), np.zeros(n, dtype=bool)),
        "ftag": pd.arrays.IntegerArray(np.asarray(ftag, dtype=np.int64), np.zeros(n, dtype=bool)),
        "ftr": np.asarray(ftr, dtype=object),
        "htr": _result_code_column(matrix, lines, position("htr"), column("htr"), rejects),
        "referee": _text_column(matrix, position("referee")),
        "source_line": lines,
    }
    for target in (*_HALF_TIME_GOALS, *_COUNT_STATS):
        data[target] = ints.get(target, pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)))
    matches = pd.DataFrame({c: data[c] for c in (*raw_schema.MATCH_COLUMNS, "source_line")})
    odds = _extract_odds(table, matrix, lines, keys, rejects)
    return ParsedResults(
        matches=matches,
        odds=odds,
        rejected=_rejected_frame(rejects),
        n_source_rows=n_source_rows,
    )


def parse_fixtures_file(content: bytes, source_file: str, divisions: Iterable[str] | None = None) -> ParsedFixtures:
    """Parse a ``fixtures.csv`` snapshot (many divisions, no results), keeping ``divisions`` if given."""
    table = _split_table(decode_source(content, source_file), source_file)
    cols = _require_columns(table, source_file, ("div", "match_date", "home_team", "away_team"), "fixtures")
    pos = {target: table.index[col] for target, col in cols.items()}
    rejects: list[_Reject] = []
    wanted = None if divisions is None else set(divisions)

    # Month-first detection looks at the whole file, before the division filter.
    _dates_for(table, list(range(len(table.rows))), pos["match_date"], None, source_file)

    order: list[int] = []
    for i, row in enumerate(table.rows):
        if not row[pos["div"]]:
            if wanted is None:  # with a filter, a row without Div is simply not one of ours
                rejects.append((table.lines[i], cols["div"], None, "row without Div"))
        elif wanted is None or row[pos["div"]] in wanted:
            order.append(i)
    n_source_rows = len(order) + len(rejects)
    key = [pos["div"], pos["home_team"], pos["away_team"], pos["match_date"]]
    order = _dedupe(table, order, key, source_file, rejects)
    dates = _dates_for(table, order, pos["match_date"], None, source_file)
    accepted, match_dates, _, _, _ = _check_core(table, order, cols, pos, dates, rejects, False)

    matrix, lines = _accepted_matrix(table, accepted)
    time_col = _source_column(table.names, "kickoff_time")
    keys = {
        "div": matrix[:, pos["div"]],
        "match_date": np.asarray(match_dates, dtype=object),
        "home_team": matrix[:, pos["home_team"]],
        "away_team": matrix[:, pos["away_team"]],
    }
    fixtures = pd.DataFrame(
        {
            **keys,
            "kickoff_time": _kickoff_column(
                matrix, lines, table.index[time_col] if time_col else None, time_col, rejects
            ),
            "source_line": lines,
        }
    )
    odds = _extract_odds(table, matrix, lines, keys, rejects)
    return ParsedFixtures(
        fixtures=fixtures[[*raw_schema.FIXTURE_COLUMNS, "source_line"]],
        odds=odds,
        rejected=_rejected_frame(rejects),
        n_source_rows=n_source_rows,
    )
