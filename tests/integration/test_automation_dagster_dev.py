"""The whole local stack as an operator runs it: `dagster dev` (webserver + daemon + code server) on the local profile.

Through the GraphQL API only: launch a backfill of two seasons of raw_matches (E0, the shared data directory), wait
for the daemon to run it, read the asset checks' results back; then check the warehouse against MANIFEST.csv.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from football_platform.lib.warehouse import Warehouse
from tests.conftest import FOOTBALL_DATA, season_files

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).parent / "dagster"
SEASONS = ["2223", "2324"]
# Upper bounds, generous for a machine shared with other work; an idle one needs a fraction of them.
STARTUP_SECONDS = 240
BACKFILL_SECONDS = 240
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status }
    ... on Error { message }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { results { runId status } }
  }
}
"""
CHECK_RESULTS = """
{ assetNodes(assetKeys: [{path: ["raw_matches"]}]) {
    assetChecksOrError { __typename ... on AssetChecks { checks {
        name
        executionForLatestMaterialization { status runId evaluation { success severity description } }
    } } }
} }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def _wait_for_location(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"dagster dev exited early:\n{log.read_text()[-4000:]}"
        try:
            entries = _graphql(url, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, KeyError):
            time.sleep(1)
            continue
        loaded = [e for e in entries if e["loadStatus"] == "LOADED"]
        if loaded:
            kind = loaded[0]["locationOrLoadError"]
            assert kind["__typename"] == "RepositoryLocation", kind
            return
        time.sleep(1)
    pytest.fail(f"code location not loaded after {STARTUP_SECONDS}s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def dagster_dev(tmp_path: Path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        **os.environ,
        "FOOTBALL_ENV": "local",
        "FOOTBALL_DATA_SOURCE": str(FOOTBALL_DATA),
        "FOOTBALL_LEAGUES": "E0",
        "FOOTBALL_WAREHOUSE": str(warehouse),
        "FOOTBALL_STATE_DIR": str(tmp_path / "state"),
        "DAGSTER_HOME": str(home),
    }
    port = _free_port()
    log = tmp_path / "dagster_dev.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(DAGSTER), "dev", "-m", "football_platform.definitions", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: webserver, daemon, code server and runs stop together
        )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        _wait_for_location(url, process, log)
        yield url, warehouse, log, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.mark.slow
def test_backfill_two_seasons_through_graphql(dagster_dev):
    url, warehouse_path, log, process = dagster_dev
    started = time.monotonic()
    launched = _graphql(
        url,
        LAUNCH_BACKFILL,
        {
            "params": {
                "assetSelection": [{"path": ["raw_matches"]}],
                "partitionNames": SEASONS,
                "fromFailure": False,
                # One process for the whole run: a subprocess per step re-imports the stack (~10 s each).
                "runConfigData": {"execution": {"config": {"in_process": {}}}},
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    status, runs = None, []
    while time.monotonic() - started < BACKFILL_SECONDS:
        data = _graphql(url, BACKFILL_STATUS, {"id": backfill_id})
        status = data["partitionBackfillOrError"]["status"]
        runs = data["runsOrError"]["results"]
        if status in FINISHED and runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            break
        time.sleep(2)
    elapsed = time.monotonic() - started
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (
        f"backfill {status} after {elapsed:.0f}s, runs {runs}\n{log.read_text()[-4000:]}"
    )
    # BackfillPolicy.single_run: both seasons in one run.
    assert len(runs) == 1 and runs[0]["status"] == "SUCCESS", runs

    checks = _graphql(url, CHECK_RESULTS)["assetNodes"][0]["assetChecksOrError"]["checks"]
    by_name = {c["name"]: c["executionForLatestMaterialization"] for c in checks}
    expectations = by_name["raw_matches_expectations"]
    assert expectations["runId"] == runs[0]["runId"]
    assert expectations["status"] == "SUCCEEDED"
    assert expectations["evaluation"]["success"] is True and expectations["evaluation"]["severity"] == "ERROR"
    overround = by_name["raw_odds_overround"]
    assert overround["runId"] == runs[0]["runId"] and overround["evaluation"]["severity"] == "WARN"
    # A backfill of the asset runs all its checks, the freshness check included: just materialised, so fresh.
    assert by_name["freshness_check"]["evaluation"]["success"] is True

    # Stop the stack (the DuckDB file admits no reader while a writer holds it), then count against the manifest.
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    expected = {r["season"]: int(r["rows"]) for r in season_files() if r["div"] == "E0" and r["season"] in SEASONS}
    counts = Warehouse(kind="duckdb", path=warehouse_path).query_df(
        "SELECT season, COUNT(*) AS n FROM raw.matches GROUP BY season"
    )
    assert dict(zip(counts["season"], counts["n"].astype(int), strict=True)) == expected
