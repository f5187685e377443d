"""Loading parsed files into the ``raw`` schema: upsert on the natural key, one transaction per file.

A file lands whole or not at all. Rows are compared by a hash of their business
columns *and* their odds, so a re-ingest of an unchanged file reports every row
unchanged and a corrected cell updates exactly its row. Rows missing from a newer
version of a file are never deleted: they are counted and reported instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from football_platform.lib.parsing import (
    ParsedFixtures,
    ParsedResults,
    SourceFileRejected,
    parse_fixtures_file,
    parse_results_file,
)
from football_platform.lib.raw_schema import (
    FIXTURE_COLUMNS,
    FIXTURE_KEY,
    FIXTURE_ODDS_COLUMNS,
    MATCH_COLUMNS,
    MATCH_KEY,
    ODDS_COLUMNS,
)
from football_platform.lib.sources import FetchResult, FootballDataSource, KnownVersion, SourceFile
from football_platform.lib.warehouse import Connection, Warehouse, session

COUNT_FIELDS = ("files", "rows", "inserted", "updated", "unchanged", "rejected")
ODDS_HASH_COLUMNS = ("bookmaker", "market", "period", "selection", "line", "price", "flag")


@dataclass
class FileOutcome:
    """What happened to one source file."""

    name: str
    status: str  # 'loaded' | 'unchanged' | 'missing' | 'rejected'
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows rejected inside an accepted file
    values_rejected: int = 0  # single values (a price, a handicap line) refused while their row was kept
    missing_from_source: int = 0  # rows the warehouse holds that this version of the file no longer has
    sha256: str | None = None
    reason: str | None = None
    date_min: str | None = None
    date_max: str | None = None


@dataclass
class IngestSummary:
    """Totals over many files; ``as_json_dict`` is the CLI's contract."""

    outcomes: list[FileOutcome] = field(default_factory=list)

    def add(self, outcome: FileOutcome) -> None:
        self.outcomes.append(outcome)

    @property
    def failures(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "rejected"]

    def as_json_dict(self) -> dict[str, int]:
        counted = [o for o in self.outcomes if o.status in ("loaded", "unchanged")]
        return {
            "files": len(counted),
            "rows": sum(o.rows for o in counted),
            "inserted": sum(o.inserted for o in counted),
            "updated": sum(o.updated for o in counted),
            "unchanged": sum(o.unchanged for o in counted),
            "rejected": sum(o.rejected for o in self.outcomes) + len(self.failures),
        }

    def outcome_records(self) -> list[dict]:
        return [asdict(o) for o in self.outcomes]


def row_hashes(matches: pd.DataFrame, odds: pd.DataFrame, key: tuple[str, ...], columns: list[str]) -> pd.Series:
    """A 64-bit hash per match over its business columns and all of its odds (order-independent), as hex.

    pandas' hash is deterministic (fixed key) and vectorised. Values are hashed in
    the parser's dtypes (nullable integers, floats, text), which the parser fixes.
    """
    combined = pd.util.hash_pandas_object(matches[columns], index=False).to_numpy(dtype="uint64")
    if not odds.empty:
        odds_cols = [c for c in ODDS_HASH_COLUMNS if c in odds.columns]
        per_price = pd.Series(
            pd.util.hash_pandas_object(odds[odds_cols], index=False).to_numpy(dtype="uint64")
        )
        grouped = per_price.groupby([odds[k].to_numpy() for k in key], sort=False).sum()
        odds_hash = grouped.reindex(pd.MultiIndex.from_frame(matches[list(key)])).fillna(0).to_numpy(dtype="uint64")
        with np.errstate(over="ignore"):
            combined = combined * np.uint64(1_000_003) + odds_hash
    return pd.Series([f"{value:016x}" for value in combined], index=matches.index, dtype="object")


def known_version(target: Warehouse | Connection, name: str) -> KnownVersion | None:
    """The last version of ``name`` that loaded, for a conditional fetch."""
    with session(target) as conn:
        if not conn.table_exists("raw", "source_files"):
            return None
        found = conn.query_df(
            "SELECT sha256, etag, last_modified FROM raw.source_files WHERE source_file = ? AND status = 'loaded'",
            [name],
        )
    if found.empty:
        return None
    row = found.iloc[0]
    return KnownVersion(sha256=row["sha256"], etag=row["etag"], last_modified=row["last_modified"])


def _stored_rows(conn: Connection, name: str) -> int:
    found = conn.query_df("SELECT rows FROM raw.source_files WHERE source_file = ?", [name])
    return int(found.iloc[0]["rows"]) if not found.empty else 0


def _now() -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.now(dt.UTC))


def _record_rejection(conn: Connection, file: SourceFile, rejected: pd.DataFrame, now: pd.Timestamp) -> None:
    conn.execute("DELETE FROM raw.rejected_rows WHERE source_file = ? AND source_sha256 = ?", [file.name, file.sha256])
    if rejected.empty:
        return
    frame = pd.DataFrame(
        {
            "source_file": file.name,
            "source_sha256": file.sha256,
            "source_line": rejected["source_line"].astype("Int64"),
            "column_name": rejected["column_name"].astype("string"),
            "value": rejected["value"].astype("string"),
            "reason": rejected["reason"].astype("string"),
            "rejected_at": now,
        }
    )
    conn.copy_into("raw.rejected_rows", frame)


def _record_source_file(
    conn: Connection, file: SourceFile, rows: int, status: str, season: str | None, div: str | None, now
) -> None:
    conn.execute("DELETE FROM raw.source_files WHERE source_file = ?", [file.name])
    conn.execute(
        "INSERT INTO raw.source_files (source_file, div, season, sha256, etag, last_modified, rows, status, reason,"
        " ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        [file.name, div, season, file.sha256, file.etag, file.last_modified, rows, status, now.to_pydatetime()],
    )


def record_file_rejection(target: Warehouse | Connection, file: SourceFile, reason: str) -> None:
    """A rejected file leaves the data as it was; only the rejection itself is written down."""
    with session(target) as conn:
        conn.ensure_raw_schema()
        with conn.transaction():
            frame = pd.DataFrame(
                [{"source_line": pd.NA, "column_name": None, "value": None, "reason": f"file rejected: {reason}"}]
            )
            _record_rejection(conn, file, frame, _now())


def _upsert(
    conn: Connection,
    table: str,
    stage: str,
    key: tuple[str, ...],
    columns: list[str],
    keep_on_update: tuple[str, ...] = ("ingested_at",),
    extra: tuple[str, ...] = (),
) -> tuple[int, int, int]:
    """Insert new keys, update keys whose row_hash changed; returns (inserted, updated, unchanged).

    Leaves temp table ``<stage>_changed`` with the keys of inserted or updated rows.
    """
    keys = ", ".join(f's."{k}"' for k in (*key, *extra))
    join = " AND ".join(f's."{k}" = t."{k}"' for k in key)
    conn.execute(f"DROP TABLE IF EXISTS {stage}_changed")
    conn.execute(
        f"""CREATE TEMP TABLE {stage}_changed AS
            SELECT {keys}, CASE WHEN t."{key[0]}" IS NULL THEN 1 ELSE 0 END AS is_new
            FROM {stage} s LEFT JOIN {table} t ON {join}
            WHERE t."{key[0]}" IS NULL OR t.row_hash <> s.row_hash"""
    )
    counts = conn.query_one(
        f"SELECT (SELECT COUNT(*) FROM {stage}), COALESCE(SUM(is_new), 0), COUNT(*) FROM {stage}_changed"
    )
    assert counts is not None
    total, inserted, changed = (int(c) for c in counts)
    if changed:
        cols = ", ".join(f'"{c}"' for c in columns)
        updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in key and c not in keep_on_update)
        conn.execute(
            f"""INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage}
                ON CONFLICT ({", ".join(f'"{k}"' for k in key)}) DO UPDATE SET {updates}
                WHERE {table}.row_hash <> EXCLUDED.row_hash"""
        )
    return inserted, changed - inserted, total - changed


def _replace_odds(conn: Connection, table: str, stage_odds: str, changed: str, key: tuple[str, ...]) -> None:
    """The odds of every inserted or updated match are replaced by the file's odds for it."""
    join_o = " AND ".join(f'c."{k}" = o."{k}"' for k in key)
    conn.execute(f"DELETE FROM {table} o WHERE EXISTS (SELECT 1 FROM {changed} c WHERE c.is_new = 0 AND {join_o})")
    conn.execute(f"INSERT INTO {table} SELECT o.* FROM {stage_odds} o WHERE EXISTS (SELECT 1 FROM {changed} c WHERE {join_o})")


@dataclass
class PreparedFile:
    """A parsed season file with its rows ready for the warehouse (no database touched yet)."""

    file: SourceFile
    season: str
    div: str
    matches: pd.DataFrame
    odds: pd.DataFrame
    rejected: pd.DataFrame
    outcome: FileOutcome


MATCH_TABLE_COLUMNS = [*MATCH_COLUMNS, "source_file", "source_sha256", "source_line", "row_hash", "ingested_at",
                       "updated_at"]


def prepare_results(file: SourceFile, season: str, div: str, now: pd.Timestamp | None = None) -> PreparedFile:
    """Parse one season file and shape it like raw.matches / raw.odds; raises SourceFileRejected."""
    parsed: ParsedResults = parse_results_file(file.content, file.name, season=season, div=div)
    now = now if now is not None else _now()
    matches = parsed.matches.copy()
    matches["match_date"] = pd.to_datetime(matches["match_date"]).dt.date
    matches["source_file"] = file.name
    matches["source_sha256"] = file.sha256
    matches["source_line"] = matches["source_line"].astype("Int64")
    matches["row_hash"] = row_hashes(matches, parsed.odds, MATCH_KEY, list(MATCH_COLUMNS))
    matches["ingested_at"] = now
    matches["updated_at"] = now
    odds = parsed.odds[list(ODDS_COLUMNS)].assign(source_file=file.name, source_sha256=file.sha256, ingested_at=now)
    outcome = FileOutcome(name=file.name, status="loaded", rows=len(matches), sha256=file.sha256,
                          rejected=parsed.n_rejected_rows,
                          values_rejected=len(parsed.rejected) - parsed.n_rejected_rows)
    if not matches.empty:
        outcome.date_min = str(min(matches["match_date"]))
        outcome.date_max = str(max(matches["match_date"]))
    return PreparedFile(file, season, div, matches[MATCH_TABLE_COLUMNS], odds, parsed.rejected, outcome)


def write_results(target: Warehouse | Connection, prepared: list[PreparedFile]) -> None:
    """Upsert prepared files in one transaction, filling each file's counts.

    Every file was fully parsed and validated before this point, so a file lands
    whole; one bulk upsert for the batch is what makes the full history fast.
    """
    if not prepared:
        return
    now = prepared[0].matches["updated_at"].iloc[0] if len(prepared[0].matches) else _now()
    with session(target) as conn:
        conn.ensure_raw_schema()
        with conn.transaction():
            # Staged file by file: concatenating millions of odds rows in pandas costs more than the load.
            conn.create_temp_like("stage_matches", "raw.matches", MATCH_TABLE_COLUMNS)
            for p in prepared:
                conn.copy_into("stage_matches", p.matches)
            _upsert(conn, "raw.matches", "stage_matches", MATCH_KEY, MATCH_TABLE_COLUMNS, extra=("source_file",))
            per_file = conn.query_df(
                "SELECT source_file, SUM(is_new) AS inserted, COUNT(*) - SUM(is_new) AS updated "
                "FROM stage_matches_changed GROUP BY source_file"
            ).set_index("source_file")
            if not per_file.empty:
                conn.create_temp_like("stage_odds", "raw.odds", list(prepared[0].odds.columns))
                for p in prepared:
                    if p.file.name in per_file.index:
                        conn.copy_into("stage_odds", p.odds)
                _replace_odds(conn, "raw.odds", "stage_odds", "stage_matches_changed", MATCH_KEY)
                conn.execute("DROP TABLE stage_odds")
            # Rows the warehouse holds for these (div, season) files that the files no longer have: kept, reported.
            missing = conn.query_df(
                "SELECT m.div, m.season, COUNT(*) AS n FROM raw.matches m "
                "WHERE EXISTS (SELECT 1 FROM stage_matches f WHERE f.div = m.div AND f.season = m.season) "
                "AND NOT EXISTS (SELECT 1 FROM stage_matches s WHERE s.div = m.div AND s.season = m.season AND "
                "s.home_team = m.home_team AND s.away_team = m.away_team) GROUP BY m.div, m.season"
            )
            missing_by = {(r.div, r.season): int(r.n) for r in missing.itertuples()}
            conn.execute("DROP TABLE stage_matches")
            conn.execute("DROP TABLE stage_matches_changed")
            for p in prepared:
                out = p.outcome
                if p.file.name in per_file.index:
                    out.inserted = int(per_file.loc[p.file.name, "inserted"])
                    out.updated = int(per_file.loc[p.file.name, "updated"])
                out.unchanged = out.rows - out.inserted - out.updated
                out.missing_from_source = missing_by.get((p.div, p.season), 0)
                _record_rejection(conn, p.file, p.rejected, now)
                _record_source_file(conn, p.file, out.rows, "loaded", p.season, p.div, now)


def load_results(target: Warehouse | Connection, file: SourceFile, season: str, div: str) -> FileOutcome:
    """Parse and upsert one season file; raises SourceFileRejected for a bad file (warehouse untouched)."""
    prepared = prepare_results(file, season, div)
    write_results(target, [prepared])
    return prepared.outcome


def load_fixtures(target: Warehouse | Connection, file: SourceFile, divisions: list[str] | None) -> FileOutcome:
    """Upsert one fixtures snapshot (newest wins: its rows replace older snapshots' rows for the same key)."""
    parsed: ParsedFixtures = parse_fixtures_file(file.content, file.name, divisions=divisions)
    now = _now()
    snapshot = file.snapshot_date or now.date()
    fixtures = parsed.fixtures.copy()
    fixtures["match_date"] = pd.to_datetime(fixtures["match_date"]).dt.date
    fixtures["snapshot_date"] = snapshot
    fixtures["source_file"] = file.name
    fixtures["source_sha256"] = file.sha256
    fixtures["source_line"] = fixtures["source_line"].astype("Int64")
    fixture_cols = list(FIXTURE_COLUMNS)
    fixtures["row_hash"] = row_hashes(fixtures, parsed.odds, FIXTURE_KEY, fixture_cols)
    fixtures["ingested_at"] = now
    fixtures["updated_at"] = now
    all_cols = [*fixture_cols, "snapshot_date", "source_file", "source_sha256", "source_line", "row_hash",
                "ingested_at", "updated_at"]
    fixtures = fixtures[all_cols]
    odds = parsed.odds[list(FIXTURE_ODDS_COLUMNS)].assign(snapshot_date=snapshot, source_file=file.name,
                                                          ingested_at=now)
    outcome = FileOutcome(name=file.name, status="loaded", rows=len(fixtures), sha256=file.sha256,
                          rejected=parsed.n_rejected_rows,
                          values_rejected=len(parsed.rejected) - parsed.n_rejected_rows)
    if not fixtures.empty:
        outcome.date_min = str(min(fixtures["match_date"]))
        outcome.date_max = str(max(fixtures["match_date"]))
    with session(target) as conn:
        conn.ensure_raw_schema()
        with conn.transaction():
            conn.load_temp("stage_fixtures", fixtures, like="raw.fixtures")
            outcome.inserted, outcome.updated, outcome.unchanged = _upsert(
                conn, "raw.fixtures", "stage_fixtures", FIXTURE_KEY, all_cols
            )
            conn.load_temp("stage_fixture_odds", odds, like="raw.fixture_odds")
            _replace_odds(conn, "raw.fixture_odds", "stage_fixture_odds", "stage_fixtures_changed", FIXTURE_KEY)
            # An unchanged fixture listed again belongs to this newer snapshot too: the newest list is what is
            # upcoming, so its rows (and their prices) carry this snapshot's date, not the first one's.
            for table in ("raw.fixtures", "raw.fixture_odds"):
                listed = " AND ".join(f's."{k}" = {table}."{k}"' for k in FIXTURE_KEY)
                conn.execute(f"UPDATE {table} SET snapshot_date = ?, source_file = ? WHERE snapshot_date < ? AND "
                             f"EXISTS (SELECT 1 FROM stage_fixtures s WHERE {listed})",
                             [snapshot, file.name, snapshot])
            for temp in ("stage_fixtures", "stage_fixtures_changed", "stage_fixture_odds"):
                conn.execute(f"DROP TABLE {temp}")
            _record_rejection(conn, file, parsed.rejected, now)
            _record_source_file(conn, file, len(fixtures), "loaded", None, None, now)
    return outcome


def ingest_many(
    target: Warehouse | Connection,
    source: FootballDataSource,
    files: list[tuple[str, str]],
    force: bool = False,
    batch_rows: int = 20_000,
) -> list[FileOutcome]:
    """Fetch, parse and load (season, div) files; a bad file is rejected whole and recorded, never raised.

    Good files are written in batches of about ``batch_rows`` matches, which bounds memory on the full history.
    """
    outcomes: list[FileOutcome] = []
    with session(target) as conn:
        conn.ensure_raw_schema()
        pending: list[PreparedFile] = []
        now = _now()
        for season, div in files:
            name = f"{season}/{div}.csv"
            known = None if force else known_version(conn, name)
            result: FetchResult = source.fetch_results(season, div, known=known)
            if result.status == "missing":
                outcomes.append(FileOutcome(name=name, status="missing"))
                continue
            if result.status == "not_modified":
                rows = _stored_rows(conn, name)
                sha = known.sha256 if known else None
                outcomes.append(FileOutcome(name=name, status="unchanged", rows=rows, unchanged=rows, sha256=sha))
                continue
            assert result.file is not None
            try:
                prepared = prepare_results(result.file, season, div, now)
            except SourceFileRejected as exc:
                record_file_rejection(conn, result.file, exc.reason)
                outcomes.append(FileOutcome(name=name, status="rejected", reason=str(exc), sha256=result.file.sha256))
                continue
            pending.append(prepared)
            outcomes.append(prepared.outcome)
            if sum(len(p.matches) for p in pending) >= batch_rows:
                write_results(conn, pending)
                pending = []
        write_results(conn, pending)
    return outcomes


def ingest_results(
    target: Warehouse | Connection, source: FootballDataSource, season: str, div: str, force: bool = False
) -> FileOutcome:
    """Fetch, parse and load one season file (see :func:`ingest_many`)."""
    return ingest_many(target, source, [(season, div)], force=force)[0]


def outcome_table(outcomes: list[FileOutcome]) -> pd.DataFrame:
    frame = pd.DataFrame([asdict(o) for o in outcomes])
    if frame.empty:
        return frame
    return frame.replace({np.nan: None})
