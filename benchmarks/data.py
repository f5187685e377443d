"""Load football-data.co.uk CSVs from ``../shared/data`` into the modelling contract frame.

Uses the project's parser (``football_platform.lib.parsing.parse_results_file``) when it exists,
otherwise a small tolerant reader good enough for benchmarks (BOM, cp1252, ragged rows, day-first
dates). The frame has ``div, season, match_date, home_team, away_team, fthg, ftag``, shots when present
and the ``odds_*`` contract columns chosen by :mod:`football_platform.lib.market`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from football_platform.lib.market import select_long_odds, select_wide_odds

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "football-data"
BIG_SIX = ("E0", "E1", "SP1", "D1", "I1", "F1")

# Spelling variants of one club across seasons (the warehouse does this with a dbt seed).
TEAM_ALIASES = {("D1", "M'Gladbach"): "M'gladbach", ("SP1", "Villareal"): "Villarreal"}

_STAT_COLUMNS = {"HS": "home_shots", "AS": "away_shots", "HST": "home_shots_on_target", "AST": "away_shots_on_target"}


def _decode(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _read_simple(content: bytes, season: str, div: str, source: str) -> pd.DataFrame:
    rows = list(csv.reader(io.StringIO(_decode(content))))
    if not rows:
        raise ValueError(f"{source}: empty file")
    header = [h.strip() for h in rows[0]]
    keep = [i for i, h in enumerate(header) if h]
    records = []
    for row in rows[1:]:
        row = (row + [""] * len(header))[: len(header)]  # ragged rows: pad or truncate
        if not row[header.index("Div")].strip():
            continue
        records.append([row[i].strip() for i in keep])
    raw = pd.DataFrame(records, columns=[header[i] for i in keep]).replace("", None)
    dates = pd.to_datetime(raw["Date"], format="%d/%m/%y", errors="coerce")
    four = pd.to_datetime(raw["Date"], format="%d/%m/%Y", errors="coerce")
    dates = dates.where(raw["Date"].str.len() <= 8, four)
    if dates.isna().any():
        bad = raw.loc[dates.isna(), "Date"].iloc[0]
        raise ValueError(f"{source}: unparseable date {bad!r}")
    frame = pd.DataFrame(
        {
            "div": div,
            "season": season,
            "match_date": dates,
            "home_team": raw["HomeTeam"].str.strip(),
            "away_team": raw["AwayTeam"].str.strip(),
            "fthg": pd.to_numeric(raw["FTHG"]).astype(int),
            "ftag": pd.to_numeric(raw["FTAG"]).astype(int),
        }
    )
    for src, dst in _STAT_COLUMNS.items():
        frame[dst] = pd.to_numeric(raw[src], errors="coerce") if src in raw.columns else float("nan")
    return pd.concat([frame, select_wide_odds(raw)], axis=1)


def _read_with_parser(content: bytes, season: str, div: str, source: str) -> pd.DataFrame | None:
    try:
        from football_platform.lib.parsing import parse_results_file  # type: ignore[import-not-found]
    except ImportError:
        return None
    parsed = parse_results_file(content, source, season, div)
    matches = parsed.matches.copy()
    cols = ["div", "season", "match_date", "home_team", "away_team", "fthg", "ftag", *_STAT_COLUMNS.values()]
    matches = matches[[c for c in cols if c in matches.columns]]
    odds = select_long_odds(parsed.odds)
    return matches.merge(odds, on=["div", "season", "home_team", "away_team"], how="left")


def load_matches(
    leagues: Iterable[str] = BIG_SIX,
    seasons: Iterable[str] | None = None,
    root: Path | str = DEFAULT_ROOT,
    use_parser: bool = True,
) -> pd.DataFrame:
    """All matches of ``leagues`` x ``seasons`` (default: every season folder under ``root``)."""
    root = Path(root)
    if seasons is None:
        seasons = sorted((p.name for p in root.iterdir() if p.is_dir() and p.name.isdigit()),
                         key=lambda s: (int(s[:2]) < 93, s))
    frames = []
    for season in seasons:
        for div in leagues:
            path = root / season / f"{div}.csv"
            if not path.exists():
                continue
            content = path.read_bytes()
            source = f"{season}/{div}.csv"
            frame = _read_with_parser(content, season, div, source) if use_parser else None
            if frame is None:
                frame = _read_simple(content, season, div, source)
            frames.append(frame)
    if not frames:
        raise FileNotFoundError(f"no match files for {list(leagues)} under {root}")
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    # all-empty columns (no shots or odds in the 1990s) are dropped before concat and restored after
    out = pd.concat([f.dropna(axis=1, how="all") for f in frames], ignore_index=True).reindex(columns=columns)
    for (div, name), canonical in TEAM_ALIASES.items():
        for col in ("home_team", "away_team"):
            out.loc[(out["div"] == div) & (out[col] == name), col] = canonical
    out["match_date"] = pd.to_datetime(out["match_date"])
    return out.sort_values(["match_date", "div", "home_team", "away_team"], kind="mergesort").reset_index(drop=True)
