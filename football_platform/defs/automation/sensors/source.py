"""``new_source_data_sensor``: polls the source for changed season files and launches their ingestion."""

import json
from collections.abc import Sequence

import dagster as dg

from football_platform.defs.automation.jobs import SOURCE_INGESTION_JOB
from football_platform.defs.automation.sensors._common import load_cursor
from football_platform.lib.health import poll_run_key, poll_source
from football_platform.lib.seasons import current_season
from football_platform.lib.sources import DirectorySource, HttpSource, SourceError
from football_platform.resources import FootballDataSourceResource

# A sensor tick has 60 s: poll the site with a short timeout and few retries (the daily schedule is the backstop).
SOURCE_POLL_TIMEOUT_SECONDS = 10.0
SOURCE_POLL_ATTEMPTS = 2
SOURCE_POLL_INTERVAL_SECONDS = 15 * 60


def _sensor_source(location: str) -> DirectorySource | HttpSource:
    if location.startswith(("http://", "https://")):
        return HttpSource(
            location, timeout=SOURCE_POLL_TIMEOUT_SECONDS, attempts=SOURCE_POLL_ATTEMPTS, backoff_seconds=0.5
        )
    return DirectorySource(location)


def new_source_data_sensor(
    season_keys: Sequence[str],
    extra_seasons: Sequence[str] = (),
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    name: str = "new_source_data_sensor",
) -> dg.SensorDefinition:
    """Poll the source for the current season (and ``extra_seasons``); one run per season whose files changed.

    The cursor is ``{"versions": {"2324/E0.csv": {"sha256": ..., "etag": ...}}}``: the
    HTTP source sends ``If-None-Match`` with the ETag, so an unchanged file costs a 304.
    """

    @dg.sensor(
        name=name,
        job_name=SOURCE_INGESTION_JOB,
        minimum_interval_seconds=SOURCE_POLL_INTERVAL_SECONDS,
        default_status=default_status,
        description="Polls football-data files of the current season with conditional requests and launches "
        "raw_matches runs only for the season partitions whose files changed.",
    )
    def _sensor(context: dg.SensorEvaluationContext, football_source: FootballDataSourceResource):
        cursor = load_cursor(context.cursor)
        seasons = [current_season(), *extra_seasons]
        unknown = [s for s in seasons if s not in season_keys]
        if unknown:
            context.log.warning(f"seasons {unknown} are not raw_matches partitions; not polled")
        seasons = [s for s in dict.fromkeys(seasons) if s in season_keys]
        try:
            source = _sensor_source(football_source.location)
        except SourceError as exc:
            return dg.SkipReason(f"source unavailable: {exc}")
        try:
            polled = poll_source(source, seasons, football_source.leagues, cursor.get("versions", {}))
        finally:
            if isinstance(source, HttpSource):
                source.close()
        for name_, error in polled.errors.items():
            context.log.warning(f"{name_}: {error}")
        requests = [
            dg.RunRequest(
                run_key=poll_run_key(season, divs, polled.versions),
                partition_key=season,
                run_config={"ops": {"raw_matches": {"config": {"leagues": sorted(divs)}}}},
                tags={"football/trigger": "new_source_data", "football/files": ",".join(sorted(divs))},
            )
            for season, divs in sorted(polled.changed.items())
        ]
        new_cursor = json.dumps({"versions": polled.versions}, sort_keys=True)
        if not requests:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(
                    f"no changed files ({len(polled.unchanged)} unchanged, {len(polled.missing)} not published, "
                    f"{len(polled.errors)} unreadable)"
                ),
                cursor=new_cursor,
            )
        return dg.SensorResult(run_requests=requests, cursor=new_cursor)

    return _sensor
