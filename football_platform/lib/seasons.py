"""Season codes as the site spells them: ``'9394'``, ``'0001'``, ``'2324'``."""

from __future__ import annotations

import datetime as dt

FIRST_SEASON = "9394"


def season_code(start_year: int) -> str:
    """``2023 -> '2324'``."""
    return f"{start_year % 100:02d}{(start_year + 1) % 100:02d}"


def season_start_year(code: str) -> int:
    """``'2324' -> 2023``, ``'9394' -> 1993`` (codes before 1993 do not exist on the site)."""
    if len(code) != 4 or not code.isdigit():
        raise ValueError(f"season code must be 4 digits like '2324', got {code!r}")
    first = int(code[:2])
    if (first + 1) % 100 != int(code[2:]):
        raise ValueError(f"season code {code!r} is not two consecutive years")
    return 1900 + first if first >= 93 else 2000 + first


def current_season(today: dt.date | None = None) -> str:
    """The season in play on ``today``; a new season starts on 1 July."""
    today = today or dt.date.today()
    return season_code(today.year if today.month >= 7 else today.year - 1)


def partition_seasons(today: dt.date | None = None) -> list[str]:
    """Season partitions a code location declares: 1993/94 to the season *after* the one in play.

    Declared once when the code loads, so the next season's partition already exists when it starts on 1 July:
    the rollover needs no reload (until the season's file is published, its partition ingests "no data").
    """
    return all_seasons(until=season_code(season_start_year(current_season(today)) + 1))


def all_seasons(until: str | None = None) -> list[str]:
    """Every season from 1993/94 up to and including ``until`` (default: the current season)."""
    last = season_start_year(until or current_season())
    return [season_code(year) for year in range(season_start_year(FIRST_SEASON), last + 1)]


def season_range(spec: str) -> list[str]:
    """Parse ``'1213:2324'`` (inclusive) or ``'2324'`` or ``'1920,2122'`` into season codes."""
    seasons: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            first, last = (p.strip() for p in part.split(":", 1))
            start, end = season_start_year(first), season_start_year(last)
            if end < start:
                raise ValueError(f"season range {part!r} runs backwards")
            seasons.extend(season_code(year) for year in range(start, end + 1))
        else:
            season_start_year(part)
            seasons.append(part)
    return seasons


def season_window(code: str) -> tuple[dt.date, dt.date]:
    """Dates a season's matches may fall on: 1 July to 31 August of the next year (COVID 2019/20 ran into August)."""
    start = season_start_year(code)
    return dt.date(start, 7, 1), dt.date(start + 1, 8, 31)
