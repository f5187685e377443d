"""The rules behind on-call automation: source polling, model drift, retention and the asset health report.

Dagster-free and write-free: the sensors and the ``asset_health_report`` asset read Dagster's instance and hand
plain values to these functions (the poll asks the source it is given), so every rule here is tested with
hand-worked numbers. Writing the results (``ops.asset_health``) is :mod:`football_platform.lib.ops_tables`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from football_platform.lib.sources import FootballDataSource, KnownVersion, SourceError, results_name

# ---------------------------------------------------------------------------------------------------------------------
# New source data: which (season, division) files changed since the last poll


@dataclass
class PollResult:
    """Outcome of one poll. ``versions`` is the new cursor: file name -> {'sha256', 'etag'}."""

    changed: dict[str, list[str]] = field(default_factory=dict)  # season -> divisions whose bytes changed
    versions: dict[str, dict[str, str | None]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # file name -> why it could not be read this time

    @property
    def changed_seasons(self) -> list[str]:
        return sorted(self.changed)


def poll_source(
    source: FootballDataSource,
    seasons: Sequence[str],
    leagues: Sequence[str],
    versions: Mapping[str, Mapping[str, str | None]],
    max_errors: int = 3,
) -> PollResult:
    """Ask the source for every (season, league) file, conditionally on the version we last saw.

    HTTP sources answer 304 to a matching ETag (no body transferred); directory
    sources compare sha256. A file that cannot be read keeps its old version, so
    the next poll tries again instead of silently skipping a change; after
    ``max_errors`` failures the rest of the files are not tried this time.
    """
    result = PollResult(versions={name: dict(v) for name, v in versions.items()})
    for season in dict.fromkeys(seasons):
        for div in dict.fromkeys(leagues):
            name = results_name(season, div)
            if len(result.errors) >= max_errors:
                # The source is down: stop hammering it, the untried files keep their versions for next time.
                result.errors.setdefault(name, "not tried: too many errors earlier in this poll")
                continue
            seen = versions.get(name)
            known = (
                KnownVersion(sha256=str(seen["sha256"]), etag=seen.get("etag")) if seen and seen.get("sha256") else None
            )
            try:
                fetched = source.fetch_results(season, div, known=known)
            except SourceError as exc:
                result.errors[name] = str(exc)
                continue
            if fetched.status == "missing":
                result.missing.append(name)
            elif fetched.status == "not_modified":
                result.unchanged.append(name)
            else:
                assert fetched.file is not None
                result.versions[name] = {"sha256": fetched.file.sha256, "etag": fetched.file.etag}
                result.changed.setdefault(season, []).append(div)
    return result


def poll_run_key(season: str, divisions: Sequence[str], versions: Mapping[str, Mapping[str, str | None]]) -> str:
    """Idempotency key for a run request: the same file versions never launch two runs."""
    parts = [f"{div}={versions[results_name(season, div)]['sha256']}" for div in sorted(divisions)]
    return f"{season}:" + ",".join(p[:80] for p in parts)


# ---------------------------------------------------------------------------------------------------------------------
# Model drift: rolling RPS of settled predictions against the closing line


@dataclass(frozen=True)
class DriftStatus:
    matches: int
    rps_model: float | None
    rps_closing: float | None
    first_date: str | None
    last_date: str | None
    max_gap: float
    min_matches: int

    @property
    def gap(self) -> float | None:
        if self.rps_model is None or self.rps_closing is None:
            return None
        return self.rps_model - self.rps_closing

    @property
    def enough_data(self) -> bool:
        return self.matches >= self.min_matches

    @property
    def drifted(self) -> bool:
        return self.enough_data and self.gap is not None and self.gap > self.max_gap


def rps_drift(frame: pd.DataFrame, window: int, max_gap: float, min_matches: int) -> DriftStatus:
    """Mean RPS of the model and of the closing odds over the last ``window`` settled matches.

    Only matches with both scores count (closing odds are missing in older seasons);
    lower RPS is better, so drift is ``rps_model - rps_closing > max_gap``.
    """
    for column in ("match_date", "rps_model", "rps_closing"):
        if column not in frame.columns:
            raise ValueError(f"analytics.prediction_performance lacks column {column!r} (has {list(frame.columns)})")
    settled = frame.dropna(subset=["rps_model", "rps_closing"]).copy()
    settled["match_date"] = pd.to_datetime(settled["match_date"])
    recent = settled.sort_values("match_date", kind="stable").tail(window)
    if recent.empty:
        return DriftStatus(0, None, None, None, None, max_gap, min_matches)
    return DriftStatus(
        matches=len(recent),
        rps_model=float(recent["rps_model"].astype(float).mean()),
        rps_closing=float(recent["rps_closing"].astype(float).mean()),
        first_date=recent["match_date"].min().date().isoformat(),
        last_date=recent["match_date"].max().date().isoformat(),
        max_gap=max_gap,
        min_matches=min_matches,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Retention


def retention_cutoff(now: dt.datetime, days: int) -> dt.datetime:
    """Rows older than this go. ``days`` must be positive: a zero would delete everything just written."""
    if now.tzinfo is None:
        raise ValueError("retention needs a timezone-aware 'now' (UTC)")
    if days < 1:
        raise ValueError(f"retention must keep at least 1 day, got {days}")
    return now - dt.timedelta(days=days)


PREDICTION_TIME_COLUMNS = ("predicted_at", "created_at", "generated_at", "scored_at", "inserted_at")


def pick_time_column(columns: Iterable[str], candidates: Sequence[str] = PREDICTION_TIME_COLUMNS) -> str | None:
    """The first candidate timestamp column a table actually has (the predictions table is another team's)."""
    present = {c.lower() for c in columns}
    return next((c for c in candidates if c in present), None)


# ---------------------------------------------------------------------------------------------------------------------
# Asset health report

HEALTHY, WARNING, DEGRADED, UNKNOWN = "HEALTHY", "WARNING", "DEGRADED", "UNKNOWN"
_RANK = {DEGRADED: 3, WARNING: 2, HEALTHY: 1, UNKNOWN: 0}


@dataclass(frozen=True)
class CheckState:
    """The latest evaluation of one asset check (``passed`` None: never evaluated)."""

    name: str
    passed: bool | None
    severity: str = "ERROR"  # 'ERROR' | 'WARN'
    evaluated_at: dt.datetime | None = None
    description: str | None = None
    is_freshness: bool = False

    @property
    def result(self) -> str:
        if self.passed is None:
            return "NOT_RUN"
        if self.passed:
            return "PASSED"
        return "FAILED" if self.severity == "ERROR" else "WARNED"


@dataclass(frozen=True)
class AssetHealth:
    asset_key: str
    group_name: str | None
    last_materialized_at: dt.datetime | None
    last_run_id: str | None
    checks: tuple[CheckState, ...] = ()
    fresh: bool | None = None  # None: no freshness rule for this asset
    freshness_source: str | None = None  # 'check' | 'policy'

    @property
    def status(self) -> str:
        """DEGRADED on a failed ERROR check or a stale asset, WARNING on a failed WARN check, UNKNOWN if never built."""
        if self.last_materialized_at is None:
            return UNKNOWN
        results = [c.result for c in self.checks]
        if "FAILED" in results or self.fresh is False:
            return DEGRADED
        if "WARNED" in results:
            return WARNING
        return HEALTHY


def freshness_from_policy(
    last_materialized_at: dt.datetime | None, fail_window: dt.timedelta, now: dt.datetime
) -> bool | None:
    """A time-window freshness policy: fresh while the last materialisation is younger than ``fail_window``."""
    if last_materialized_at is None:
        return False
    return now - last_materialized_at <= fail_window


def freshness_from_checks(checks: Iterable[CheckState]) -> bool | None:
    """The freshness checks' verdict: stale if any failed, unknown if none has run yet."""
    verdicts = [c.passed for c in checks if c.is_freshness and c.passed is not None]
    if not verdicts:
        return None
    return all(verdicts)


HEALTH_COLUMNS: dict[str, str] = {
    "asset_key": "VARCHAR NOT NULL",
    "group_name": "VARCHAR",
    "status": "VARCHAR NOT NULL",
    "last_materialized_at": "TIMESTAMP WITH TIME ZONE",
    "age_hours": "DOUBLE PRECISION",
    "last_run_id": "VARCHAR",
    "fresh": "BOOLEAN",
    "freshness_source": "VARCHAR",
    "checks_passed": "INTEGER NOT NULL",
    "checks_failed": "INTEGER NOT NULL",
    "checks_warned": "INTEGER NOT NULL",
    "checks_not_run": "INTEGER NOT NULL",
    "failing_checks": "VARCHAR",
    "check_results": "VARCHAR",  # JSON: {check name: {result, severity, evaluated_at, description}}
    "reported_at": "TIMESTAMP WITH TIME ZONE NOT NULL",
}


def health_frame(report: Sequence[AssetHealth], now: dt.datetime) -> pd.DataFrame:
    """One row per asset for ``ops.asset_health``."""
    rows = []
    for item in sorted(report, key=lambda h: h.asset_key):
        results = [c.result for c in item.checks]
        rows.append(
            {
                "asset_key": item.asset_key,
                "group_name": item.group_name,
                "status": item.status,
                "last_materialized_at": pd.Timestamp(item.last_materialized_at)
                if item.last_materialized_at
                else pd.NaT,
                "age_hours": (
                    round((now - item.last_materialized_at).total_seconds() / 3600, 2)
                    if item.last_materialized_at
                    else None
                ),
                "last_run_id": item.last_run_id,
                "fresh": item.fresh,
                "freshness_source": item.freshness_source,
                "checks_passed": results.count("PASSED"),
                "checks_failed": results.count("FAILED"),
                "checks_warned": results.count("WARNED"),
                "checks_not_run": results.count("NOT_RUN"),
                "failing_checks": ", ".join(c.name for c in item.checks if c.result in ("FAILED", "WARNED")) or None,
                "check_results": json.dumps(
                    {
                        c.name: {
                            "result": c.result,
                            "severity": c.severity,
                            "evaluated_at": c.evaluated_at.isoformat() if c.evaluated_at else None,
                            "description": c.description,
                        }
                        for c in item.checks
                    },
                    sort_keys=True,
                ),
                "reported_at": pd.Timestamp(now),
            }
        )
    frame = pd.DataFrame(rows, columns=list(HEALTH_COLUMNS))
    frame["last_materialized_at"] = pd.to_datetime(frame["last_materialized_at"], utc=True)
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    frame["fresh"] = frame["fresh"].astype("boolean")
    for column in ("checks_passed", "checks_failed", "checks_warned", "checks_not_run"):
        frame[column] = frame[column].astype("int64")
    return frame


def status_counts(report: Sequence[AssetHealth]) -> dict[str, int]:
    counts = {DEGRADED: 0, WARNING: 0, HEALTHY: 0, UNKNOWN: 0}
    for item in report:
        counts[item.status] += 1
    return counts


def health_markdown(report: Sequence[AssetHealth], now: dt.datetime) -> str:
    """The summary on-call reads first: counts, then every asset that needs attention, worst first."""
    counts = status_counts(report)
    lines = [
        f"**Asset health at {now.strftime('%Y-%m-%d %H:%M UTC')}**: "
        + ", ".join(f"{counts[s]} {s.lower()}" for s in (DEGRADED, WARNING, HEALTHY, UNKNOWN)),
        "",
    ]
    attention = sorted(
        (h for h in report if h.status in (DEGRADED, WARNING)), key=lambda h: (-_RANK[h.status], h.asset_key)
    )
    if not attention:
        lines.append("Nothing needs attention.")
    else:
        lines += ["| asset | status | last materialised | fresh | failing checks |", "|---|---|---|---|---|"]
        for item in attention:
            when = item.last_materialized_at.strftime("%Y-%m-%d %H:%M") if item.last_materialized_at else "never"
            fresh = {True: "yes", False: "**no**", None: "-"}[item.fresh]
            failing = ", ".join(
                f"{c.name} ({c.result.lower()})" for c in item.checks if c.result in ("FAILED", "WARNED")
            )
            lines.append(f"| {item.asset_key} | {item.status} | {when} | {fresh} | {failing or '-'} |")
    never = sorted(h.asset_key for h in report if h.status == UNKNOWN)
    if never:
        lines += [
            "",
            f"Never materialised ({len(never)}): " + ", ".join(never[:30]) + (" …" if len(never) > 30 else ""),
        ]
    return "\n".join(lines)
