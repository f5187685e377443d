"""Replaying the platform over past dates (pure: files, frames and numbers; no Dagster).

For each as-of date the replay rebuilds what football-data.co.uk had published that morning from a folder of the
complete files: every season file cut to the matches played *before* the date (a season whose first match is still
to come has no file yet, as on the site) and a ``fixtures/<date>/fixtures.csv`` in the site's layout listing the
matches of the next days with their pre-match odds (no result, no closing price), unless the source holds a real
snapshot of that date. The platform's jobs then run on that folder; at the end this module scores what they
published before kick-off, the same way the backtest is scored.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from football_platform.contracts import CLOSING_PROB_COLUMNS, MATCH_KEY, PROB_COLUMNS
from football_platform.lib.metrics import evaluate, outcome_index, rps_scores
from football_platform.lib.parsing import decode_source
from football_platform.lib.seasons import season_window

# Columns a fixtures list never carries: the result, half-time, match statistics and attendance.
SOURCE_RESULT_COLUMNS = frozenset({
    "FTHG", "FTAG", "FTR", "HG", "AG", "Res", "HTHG", "HTAG", "HTR", "Attendance", "HS", "AS", "HST", "AST", "HHW",
    "AHW", "HC", "AC", "HF", "AF", "HFKC", "AFKC", "HO", "AO", "HY", "AY", "HR", "AR", "HBP", "ABP",
})
# Closing prices (PSCH, AvgCH, B365C>2.5, PCAHH, AHCh, ...): known only at kick-off, never in a fixtures list.
_CLOSING = re.compile(r"^(?:[A-Za-z0-9]*C(?:H|D|A|>2\.5|<2\.5|AHH|AHA)|AHCh)$")
_EVERY = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\s*$")
FIXTURE_LEAD_COLUMNS = ["Div", "Date", "Time", "HomeTeam", "AwayTeam"]


def parse_every(text: str) -> int:
    """``'1d' -> 1``, ``'7d'`` or ``'1w' -> 7`` (days between as-of dates)."""
    found = _EVERY.match(str(text))
    if not found or int(found.group(1)) < 1:
        raise ValueError(f"--every must look like 1d, 7d or 1w, got {text!r}")
    return int(found.group(1)) * (7 if found.group(2) == "w" else 1)


def as_of_dates(first: dt.date, last: dt.date, every_days: int) -> list[dt.date]:
    """``first``, ``first + every``, ... up to and including ``last``."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    return [first + dt.timedelta(days=k * every_days) for k in range((last - first).days // every_days + 1)]


def model_update_dates(dates: Sequence[dt.date], every_days: int) -> list[dt.date]:
    """The as-of dates on which the model update runs: the first one, then every ``every_days`` or more."""
    chosen: list[dt.date] = []
    for day in dates:
        if not chosen or (day - chosen[-1]).days >= every_days:
            chosen.append(day)
    return chosen


def read_site_date(value: str) -> dt.date | None:
    """``dd/mm/yy`` or ``dd/mm/yyyy``, day first (the site's formats); None when it is neither."""
    found = _DATE.match(value or "")
    if not found:
        return None
    day, month, year = int(found.group(1)), int(found.group(2)), int(found.group(3))
    if year < 100:
        year += 1900 if year >= 50 else 2000
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


@dataclass
class SeasonFile:
    """One complete season file, read once: header, rows and each row's match date."""

    season: str
    div: str
    header: list[str]
    rows: list[list[str]]
    dates: list[dt.date | None]

    @classmethod
    def read(cls, path: Path, season: str, div: str) -> SeasonFile:
        text = decode_source(path.read_bytes(), f"{season}/{div}.csv")
        table = list(csv.reader(io.StringIO(text)))
        header = [h.strip() for h in table[0]] if table else []
        at = header.index("Date") if "Date" in header else None
        rows = [r for r in table[1:] if r and r[0].strip()]  # rows without Div (only commas) are no matches
        dates = [read_site_date(r[at]) if at is not None and at < len(r) else None for r in rows]
        return cls(season, div, header, rows, dates)

    def played_before(self, day: dt.date) -> list[list[str]]:
        return [r for r, d in zip(self.rows, self.dates, strict=True) if d is not None and d < day]

    def between(self, first: dt.date, end: dt.date) -> list[tuple[dt.date, list[str]]]:
        return [(d, r) for r, d in zip(self.rows, self.dates, strict=True) if d is not None and first <= d < end]


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def fixture_columns(header: Sequence[str]) -> list[str]:
    """The columns of a season file a fixtures list keeps: key, kick-off and pre-match prices."""
    return [c for c in header if c and c not in SOURCE_RESULT_COLUMNS and not _CLOSING.match(c)]


def fixtures_csv(entries: Sequence[tuple[SeasonFile, list[str]]]) -> bytes:
    """The site's ``fixtures.csv`` layout (many divisions in one file, ``Div,Date,Time,HomeTeam,AwayTeam`` and
    pre-match odds) for rows of season files; header only when there is no row (the off-season)."""
    header = list(FIXTURE_LEAD_COLUMNS)
    for source, _ in entries:
        header += [c for c in fixture_columns(source.header) if c not in header]
    rows = []
    for source, row in entries:
        cells = dict(zip(source.header, row, strict=False))
        rows.append([cells.get(c, "") for c in header])
    return _csv_bytes(header, rows)


@dataclass
class PublishedDay:
    """What one as-of date's folder holds."""

    as_of: dt.date
    files: int
    new_results: int
    fixtures: pd.DataFrame  # div, match_date, home_team, away_team (site names) of the day's fixtures list
    real_snapshot: bool
    last_result: dt.date | None


@dataclass
class SiteHistory:
    """The complete files of a source folder (``<season>/<Div>.csv``), and the folder the platform reads."""

    source: Path
    published: Path
    leagues: Sequence[str]
    seasons: Sequence[str]
    horizon_days: int = 7
    _files: dict[tuple[str, str], SeasonFile] = field(default_factory=dict)
    _written: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for season in self.seasons:
            for div in self.leagues:
                path = self.source / season / f"{div}.csv"
                if path.is_file():
                    self._files[(season, div)] = SeasonFile.read(path, season, div)
        if not self._files:
            raise ValueError(f"no season file of {', '.join(self.leagues)} for seasons {self.seasons[0]}.."
                             f"{self.seasons[-1]} under {self.source}")

    def publish(self, day: dt.date) -> PublishedDay:
        """Write the folder as the site was on ``day`` (files only grow; a file is rewritten only when it grew)."""
        files, new_results, last = 0, 0, None
        for (season, div), source in self._files.items():
            rows = source.played_before(day)
            if not rows:
                continue  # not published yet on the site: no file, as a 404 would say
            files += 1
            played = [d for d in source.dates if d is not None and d < day]
            last = max([last, *played]) if last else max(played)
            target = self.published / season / f"{div}.csv"
            if (season, div) not in self._written and target.is_file():  # a folder published by an earlier process
                self._written[(season, div)] = len(SeasonFile.read(target, season, div).rows)
            if self._written.get((season, div)) == len(rows):
                continue
            new_results += len(rows) - self._written.get((season, div), 0)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_csv_bytes(source.header, rows))
            self._written[(season, div)] = len(rows)
        snapshot = self.published / "fixtures" / day.isoformat() / "fixtures.csv"
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        real = self.source / "fixtures" / day.isoformat() / "fixtures.csv"
        entries = self.fixtures_between(day, day + dt.timedelta(days=self.horizon_days))
        if real.is_file():
            shutil.copyfile(real, snapshot)
        else:
            snapshot.write_bytes(fixtures_csv([(f, r) for f, _, r in entries]))
        listed = pd.DataFrame(
            [{"div": f.div, "match_date": d, "home_team": _cell(f, r, "HomeTeam"), "away_team": _cell(f, r, "AwayTeam")}
             for f, d, r in entries], columns=["div", "match_date", "home_team", "away_team"])
        return PublishedDay(day, files, new_results, listed, real.is_file(), last)

    def fixtures_between(self, first: dt.date, end: dt.date) -> list[tuple[SeasonFile, dt.date, list[str]]]:
        out = []
        for source in self._files.values():
            start, stop = season_window(source.season)
            if stop < first or start >= end:
                continue
            out += [(source, d, r) for d, r in source.between(first, end)]
        return sorted(out, key=lambda e: (e[1], e[0].div, _cell(e[0], e[2], "HomeTeam")))


def _cell(source: SeasonFile, row: list[str], column: str) -> str:
    at = source.header.index(column) if column in source.header else None
    return row[at].strip() if at is not None and at < len(row) else ""


# --- scoring -----------------------------------------------------------------------------------------------------


def published_before_kickoff(published: pd.DataFrame) -> pd.DataFrame:
    """One prediction per match: the latest published on an as-of date on or before its match day.

    ``published``: ``as_of`` (date), ``generated_at``, ``match_date`` and the match key with ``p_*``.
    """
    frame = published.copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    before = frame[frame["as_of"] <= frame["match_date"]]
    order = before.sort_values(["as_of", "generated_at"], kind="mergesort")
    return order.drop_duplicates(MATCH_KEY, keep="last").reset_index(drop=True)


def _block(frame: pd.DataFrame) -> dict[str, float]:
    y = outcome_index(frame["fthg"].to_numpy(), frame["ftag"].to_numpy())
    model = evaluate(frame[PROB_COLUMNS].to_numpy(float), y)
    out = {"n": int(len(frame)), "rps": model["rps"], "log_loss": model["log_loss"]}
    closing = frame[CLOSING_PROB_COLUMNS].notna().all(axis=1).to_numpy()
    out["n_closing"] = int(closing.sum())
    if closing.any():
        same = rps_scores(frame.loc[closing, PROB_COLUMNS].to_numpy(float), y[closing])
        close = rps_scores(frame.loc[closing, CLOSING_PROB_COLUMNS].to_numpy(float), y[closing])
        out.update(rps_same_matches=float(same.mean()), rps_closing=float(close.mean()),
                   rps_gap_to_closing=float(same.mean() - close.mean()))
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}


def settle(predictions: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Predictions joined to results (``fthg, ftag``) and closing probabilities (``close_p_*``) by match key."""
    cols = [*MATCH_KEY, "fthg", "ftag", *[c for c in CLOSING_PROB_COLUMNS if c in results.columns]]
    keyed = results[cols].copy()
    keyed["season"] = keyed["season"].astype(str)
    out = predictions.drop(columns=[c for c in cols if c not in MATCH_KEY and c in predictions.columns])
    out = out.assign(season=out["season"].astype(str)).merge(keyed, on=MATCH_KEY, how="inner")
    for col in CLOSING_PROB_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    return out


def score(settled: pd.DataFrame) -> dict:
    """RPS and log loss overall, per league and per month (with the closing line on the same matches)."""
    if settled.empty:
        return {"overall": {"n": 0}, "per_league": {}, "per_month": {}}
    month = pd.to_datetime(settled["match_date"]).dt.strftime("%Y-%m")
    return {
        "overall": _block(settled),
        "per_league": {str(k): _block(g) for k, g in settled.groupby("div")},
        "per_month": {str(k): _block(g) for k, g in settled.groupby(month)},
    }


def compare_paths(replayed: pd.DataFrame, backtest: pd.DataFrame) -> dict:
    """The replay's published predictions against the backtest path's for the same matches and as-of dates."""
    key = [*MATCH_KEY, "as_of"]
    left = replayed.assign(as_of=pd.to_datetime(replayed["as_of"]))
    right = backtest.assign(as_of=pd.to_datetime(backtest["as_of"]))[[*key, *PROB_COLUMNS]]
    both = left.merge(right, on=key, suffixes=("", "_backtest"), how="inner")
    if both.empty:
        return {"n": 0}
    y = outcome_index(both["fthg"].to_numpy(), both["ftag"].to_numpy())
    mine = rps_scores(both[PROB_COLUMNS].to_numpy(float), y)
    theirs = rps_scores(both[[f"{c}_backtest" for c in PROB_COLUMNS]].to_numpy(float), y)
    diff = np.abs(both[PROB_COLUMNS].to_numpy(float) - both[[f"{c}_backtest" for c in PROB_COLUMNS]].to_numpy(float))
    return {"n": int(len(both)), "rps_replay": round(float(mine.mean()), 6), "rps_backtest": round(float(theirs.mean()), 6),
            "rps_difference": round(float(mine.mean() - theirs.mean()), 6),
            "max_abs_probability_difference": round(float(diff.max()), 6)}


def gap_chart(settled: pd.DataFrame, path: Path, title: str) -> Path:
    """PNG: RPS gap to the closing line (model minus closing, same matches) per month, and cumulatively."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    with_close = settled[settled[CLOSING_PROB_COLUMNS].notna().all(axis=1)].copy()
    if with_close.empty:
        ax.text(0.5, 0.5, "no settled prediction with closing odds", ha="center", va="center", transform=ax.transAxes)
    else:
        with_close = with_close.sort_values("match_date")
        y = outcome_index(with_close["fthg"].to_numpy(), with_close["ftag"].to_numpy())
        gap = (rps_scores(with_close[PROB_COLUMNS].to_numpy(float), y)
               - rps_scores(with_close[CLOSING_PROB_COLUMNS].to_numpy(float), y))
        dates = pd.to_datetime(with_close["match_date"]).to_numpy()
        monthly = pd.Series(gap, index=dates).resample("MS").mean().dropna()
        widths = [pd.Timestamp(m).days_in_month for m in monthly.index]
        ax.bar(monthly.index, monthly.to_numpy(), width=widths, align="edge", alpha=0.4, label="monthly mean")
        ax.plot(dates, np.cumsum(gap) / np.arange(1, len(gap) + 1), color="C1", label="cumulative mean")
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.legend(loc="upper right")
    ax.set_ylabel("RPS gap to closing line (model − closing)")
    ax.set_title(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
