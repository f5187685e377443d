"""Where football-data.co.uk files come from: a directory in the site's layout, or the site over HTTP.

Both sources answer the same questions: "give me season S of league D" (or tell
me it is not published / not modified since the version I know) and "give me the
newest fixtures snapshot". The HTTP source retries connection errors and 5xx with
exponential backoff, never retries a 404 (an unpublished season is no data, not
an error) and sends conditional requests so unchanged files cost nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

USER_AGENT = "football_platform/0.1 (open-source batch ingestion; respects conditional requests)"
SITE_BASE = "https://www.football-data.co.uk/mmz4281"
_SNAPSHOT_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class SourceFile:
    """One downloaded file and what identifies its version."""

    name: str  # display name, e.g. '2324/E0.csv' or 'fixtures/2026-01-30/fixtures.csv'
    content: bytes
    etag: str | None = None
    last_modified: str | None = None
    snapshot_date: dt.date | None = None  # fixtures only

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class KnownVersion:
    """What the warehouse already holds of a file, for conditional requests."""

    sha256: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    status: str  # 'ok' | 'not_modified' | 'missing'
    file: SourceFile | None = None
    name: str = ""


class SourceError(RuntimeError):
    """The source could not be read (network down after retries, permission denied...)."""


class FootballDataSource(Protocol):
    def describe(self) -> str: ...

    def fetch_results(self, season: str, div: str, known: KnownVersion | None = None) -> FetchResult: ...

    def fetch_fixtures(self) -> FetchResult: ...


def results_name(season: str, div: str) -> str:
    return f"{season}/{div}.csv"


class DirectorySource:
    """A folder laid out like the site: ``<season>/<Div>.csv`` and ``fixtures/<YYYY-MM-DD>/fixtures.csv``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(f"source directory {self.root} does not exist")

    def describe(self) -> str:
        return str(self.root)

    def fetch_results(self, season: str, div: str, known: KnownVersion | None = None) -> FetchResult:
        name = results_name(season, div)
        path = self.root / season / f"{div}.csv"
        if not path.is_file():
            return FetchResult("missing", name=name)
        file = SourceFile(name=name, content=path.read_bytes())
        if known is not None and known.sha256 == file.sha256:
            return FetchResult("not_modified", file=file, name=name)
        return FetchResult("ok", file=file, name=name)

    def fetch_fixtures(self) -> FetchResult:
        """The newest snapshot wins; a plain ``fixtures.csv`` at the root counts as today's."""
        fixtures_dir = self.root / "fixtures"
        snapshots = (
            sorted(p for p in fixtures_dir.iterdir() if p.is_dir() and _SNAPSHOT_DIR.match(p.name))
            if fixtures_dir.is_dir()
            else []
        )
        for snapshot in reversed(snapshots):
            path = snapshot / "fixtures.csv"
            if path.is_file():
                name = f"fixtures/{snapshot.name}/fixtures.csv"
                return FetchResult(
                    "ok",
                    file=SourceFile(name, path.read_bytes(), snapshot_date=dt.date.fromisoformat(snapshot.name)),
                    name=name,
                )
        flat = self.root / "fixtures.csv"
        if flat.is_file():
            stamp = dt.datetime.fromtimestamp(flat.stat().st_mtime, tz=dt.UTC).date()
            return FetchResult("ok", file=SourceFile("fixtures.csv", flat.read_bytes(), snapshot_date=stamp), name="fixtures.csv")
        return FetchResult("missing", name="fixtures.csv")


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


class HttpSource:
    """The site (or a mirror) over HTTP: ``{base}/{season}/{div}.csv``.

    Fixtures are at ``fixtures_url``: by default the site's ``/fixtures.csv`` next
    to ``mmz4281/``, or ``{base}/fixtures.csv`` for any other base.
    """

    def __init__(
        self,
        base_url: str = SITE_BASE,
        fixtures_url: str | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        client: httpx.Client | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        if fixtures_url is None:
            parent = self.base_url[: -len("/mmz4281")] if self.base_url.endswith("/mmz4281") else self.base_url
            fixtures_url = f"{parent}/fixtures.csv"
        self.fixtures_url = fixtures_url
        self._client = client or httpx.Client(
            timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True
        )
        self._get = retry(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=backoff_seconds, max=30),
            reraise=True,
        )(self._get_once)

    def describe(self) -> str:
        return self.base_url

    def close(self) -> None:
        self._client.close()

    def _get_once(self, url: str, headers: dict[str, str]) -> httpx.Response:
        response = self._client.get(url, headers=headers)
        if response.status_code >= 500:
            response.raise_for_status()
        return response

    def _fetch(self, url: str, name: str, known: KnownVersion | None) -> FetchResult:
        headers: dict[str, str] = {}
        if known is not None:
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
        try:
            response = self._get(url, headers)
        except httpx.HTTPStatusError as exc:
            raise SourceError(f"{url}: HTTP {exc.response.status_code} after retries") from exc
        except httpx.TransportError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}: {exc} (after retries)") from exc
        if response.status_code == 404:
            return FetchResult("missing", name=name)
        if response.status_code == 304:
            return FetchResult("not_modified", name=name)
        if response.status_code != 200:
            raise SourceError(f"{url}: unexpected HTTP {response.status_code}")
        file = SourceFile(
            name=name,
            content=response.content,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        # Servers without validators still let us skip work: same bytes, same hash.
        if known is not None and known.sha256 == file.sha256:
            return FetchResult("not_modified", file=file, name=name)
        return FetchResult("ok", file=file, name=name)

    def fetch_results(self, season: str, div: str, known: KnownVersion | None = None) -> FetchResult:
        return self._fetch(f"{self.base_url}/{season}/{div}.csv", results_name(season, div), known)

    def fetch_fixtures(self) -> FetchResult:
        result = self._fetch(self.fixtures_url, "fixtures.csv", None)
        if result.file is None:
            return result
        snapshot = dt.datetime.now(dt.UTC).date()
        if result.file.last_modified:
            with contextlib.suppress(TypeError, ValueError):
                snapshot = email.utils.parsedate_to_datetime(result.file.last_modified).date()
        file = SourceFile(
            name=f"fixtures/{snapshot.isoformat()}/fixtures.csv",
            content=result.file.content,
            etag=result.file.etag,
            last_modified=result.file.last_modified,
            snapshot_date=snapshot,
        )
        return FetchResult(result.status, file=file, name=file.name)


def open_source(location: str) -> DirectorySource | HttpSource:
    """A URL gives the HTTP source, anything else a directory."""
    if location.startswith(("http://", "https://")):
        return HttpSource(location)
    return DirectorySource(location)
