"""The HTTP source against a real local server in the site's layout."""

from __future__ import annotations

import pytest

from football_platform.lib.loading import ingest_results
from football_platform.lib.sources import USER_AGENT, HttpSource, SourceError
from football_platform.lib.warehouse import Warehouse


def test_retries_503_then_succeeds(http_mirror, duckdb_warehouse: Warehouse):
    http_mirror.fail_times["/2324/E0.csv"] = 2
    source = HttpSource(http_mirror.url, backoff_seconds=0.01)
    outcome = ingest_results(duckdb_warehouse, source, "2324", "E0")
    assert outcome.status == "loaded" and outcome.inserted == 380
    assert http_mirror.requests["/2324/E0.csv"] == 3
    assert http_mirror.user_agents == {USER_AGENT}


def test_gives_up_after_persistent_5xx_with_a_clear_error(http_mirror):
    http_mirror.fail_times["/2324/E0.csv"] = 100
    source = HttpSource(http_mirror.url, backoff_seconds=0.01, attempts=3)
    with pytest.raises(SourceError, match="2324/E0.csv: HTTP 503 after retries"):
        source.fetch_results("2324", "E0")
    assert http_mirror.requests["/2324/E0.csv"] == 3


def test_404_is_no_data_and_not_retried(http_mirror, duckdb_warehouse: Warehouse):
    source = HttpSource(http_mirror.url, backoff_seconds=0.01)
    outcome = ingest_results(duckdb_warehouse, source, "2425", "E0")  # not published in the mirror
    assert outcome.status == "missing"
    assert http_mirror.requests["/2425/E0.csv"] == 1


def test_unchanged_file_is_skipped_with_a_conditional_request(http_mirror, duckdb_warehouse: Warehouse):
    source = HttpSource(http_mirror.url, backoff_seconds=0.01)
    assert ingest_results(duckdb_warehouse, source, "2324", "SP1").status == "loaded"
    second = ingest_results(duckdb_warehouse, source, "2324", "SP1")
    assert second.status == "unchanged"
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 380)
    assert http_mirror.not_modified["/2324/SP1.csv"] == 1


def test_connection_refused_is_a_source_error():
    source = HttpSource("http://127.0.0.1:9", backoff_seconds=0.01, attempts=2, timeout=1)
    with pytest.raises(SourceError, match="after retries"):
        source.fetch_results("2324", "E0")
