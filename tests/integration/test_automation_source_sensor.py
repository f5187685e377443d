"""The new-source-data sensor against a real HTTP mirror (ETags) and a real directory (sha256)."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from football_platform.defs.automation.jobs import asset_jobs
from football_platform.defs.automation.sensors import new_source_data_sensor
from football_platform.lib.seasons import all_seasons
from football_platform.resources import FootballDataSourceResource

SEASON_KEYS = all_seasons()
LEAGUES = ["E0", "SP1"]


@dg.asset(key="raw_matches", partitions_def=dg.StaticPartitionsDefinition(SEASON_KEYS))
def raw_matches() -> None:
    return None


@pytest.fixture
def sensor_repo():
    """The sensor inside a code location with a season-partitioned raw_matches, as in production."""
    sensor = new_source_data_sensor(SEASON_KEYS, extra_seasons=["2223", "2324"])
    defs = dg.Definitions(assets=[raw_matches], jobs=asset_jobs({dg.AssetKey("raw_matches")}, []), sensors=[sensor])
    with dg.instance_for_test() as instance:
        yield sensor, defs.get_repository_def(), instance


def _tick(sensor_repo, location: str, cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
    sensor, repo, instance = sensor_repo
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        repository_def=repo,
        resources={"football_source": FootballDataSourceResource(location=location, leagues=LEAGUES)},
    )
    data = sensor.evaluate_tick(context)
    return list(data.run_requests or []), data.cursor


def test_http_mirror_first_tick_all_then_nothing_then_exactly_the_changed_file(http_mirror, sensor_repo):
    sensor = sensor_repo

    first, cursor = _tick(sensor, http_mirror.url, None)
    assert sorted(r.partition_key for r in first) == ["2223", "2324"]
    for request in first:
        assert request.run_config == {"ops": {"raw_matches": {"config": {"leagues": ["E0", "SP1"]}}}}
        assert request.tags["football/trigger"] == "new_source_data"
    versions = json.loads(cursor)["versions"]
    assert set(versions) == {"2223/E0.csv", "2223/SP1.csv", "2324/E0.csv", "2324/SP1.csv"}
    assert all(v["etag"] and len(v["sha256"]) == 64 for v in versions.values())
    # The current season (not in the mirror) is polled too and is simply not published.
    assert sum(n for path, n in http_mirror.requests.items() if "/2324/" in path) == 2

    second, cursor2 = _tick(sensor, http_mirror.url, cursor)
    assert second == []
    # Every known file was asked for conditionally and answered 304: no body transferred.
    assert {path: n for path, n in http_mirror.not_modified.items()} == {
        "/2223/E0.csv": 1,
        "/2223/SP1.csv": 1,
        "/2324/E0.csv": 1,
        "/2324/SP1.csv": 1,
    }
    assert json.loads(cursor2)["versions"] == versions

    original = (Path(http_mirror.root) / "2324" / "E0.csv").read_bytes()
    http_mirror.overrides["/2324/E0.csv"] = original.replace(b"Arsenal", b"Arsenal ", 1)  # a silent correction
    third, cursor3 = _tick(sensor, http_mirror.url, cursor2)
    assert [(r.partition_key, r.run_config["ops"]["raw_matches"]["config"]["leagues"]) for r in third] == [
        ("2324", ["E0"])
    ]
    assert third[0].run_key != next(r.run_key for r in first if r.partition_key == "2324")
    changed = json.loads(cursor3)["versions"]
    assert changed["2324/E0.csv"]["sha256"] != versions["2324/E0.csv"]["sha256"]
    assert {k: v for k, v in changed.items() if k != "2324/E0.csv"} == {
        k: v for k, v in versions.items() if k != "2324/E0.csv"
    }

    fourth, _ = _tick(sensor, http_mirror.url, cursor3)
    assert fourth == []


def test_directory_source_uses_hashes(football_data_dir: Path, tmp_path: Path, sensor_repo):
    root = tmp_path / "mirror"
    for season in ("2223", "2324"):
        (root / season).mkdir(parents=True)
        for div in LEAGUES:
            shutil.copy(football_data_dir / season / f"{div}.csv", root / season / f"{div}.csv")
    sensor = sensor_repo
    first, cursor = _tick(sensor, str(root), None)
    assert sorted(r.partition_key for r in first) == ["2223", "2324"]
    assert _tick(sensor, str(root), cursor)[0] == []
    path = root / "2223" / "SP1.csv"
    path.write_bytes(path.read_bytes() + b"\n")
    third, _ = _tick(sensor, str(root), cursor)
    assert [(r.partition_key, r.run_config["ops"]["raw_matches"]["config"]["leagues"]) for r in third] == [
        ("2223", ["SP1"])
    ]


def test_unreachable_source_keeps_the_cursor(http_mirror, sensor_repo):
    sensor = sensor_repo
    _, cursor = _tick(sensor, http_mirror.url, None)
    for path in ("/2324/E0.csv", "/2324/SP1.csv"):
        http_mirror.fail_times[path] = 10  # 503s beyond the sensor's retries
    requests, after = _tick(sensor, http_mirror.url, cursor)
    assert requests == []
    assert json.loads(after)["versions"] == json.loads(cursor)["versions"]
