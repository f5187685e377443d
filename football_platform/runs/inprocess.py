"""Running the code location's jobs in-process, as the command line and the replay do.

Shared by ``football-platform ingest | run | replay``: one Dagster run per contiguous range of season partitions,
the one-line reasons of failed steps, and what ``batch_predictions`` published (or why it was skipped).
"""

from __future__ import annotations

import shutil

import dagster as dg

from football_platform.lib.seasons import partition_seasons, season_start_year
from football_platform.settings import PROJECT_ROOT, Settings

# Dagster's console logger at WARNING: the CLI's own output is the summary line.
QUIET_LOGGERS = {"console": {"config": {"log_level": "WARNING"}}}


def profile_instance(settings: Settings) -> dg.DagsterInstance:
    """The Dagster instance under ``settings.dagster_home`` (the project's dagster.yaml copied there locally)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and (PROJECT_ROOT / "dagster.yaml").exists() and not settings.is_prod:
        shutil.copy(PROJECT_ROOT / "dagster.yaml", config)
    # The instance of that directory, as DagsterInstance.get() would build it from DAGSTER_HOME, without setting
    # the variable for the rest of the process.
    return dg.DagsterInstance.from_config(str(home))


def contiguous_runs(seasons: list[str]) -> list[tuple[str, str]]:
    """Group season codes into contiguous (first, last) ranges: one Dagster run each."""
    ordered = sorted(set(seasons), key=season_start_year)
    runs: list[tuple[str, str]] = []
    for code in ordered:
        if runs and season_start_year(code) == season_start_year(runs[-1][1]) + 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return runs


def failures_of(result) -> tuple[list[str], dict | None]:
    """One-line reasons of the failed steps of a run, and the ingest summary if a step left one."""
    reasons: list[str] = []
    summary = None
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data
        if user is not None:
            reasons.append(user.description or f"{event.step_key} failed")
            if "summary_json" in user.metadata:
                summary = user.metadata["summary_json"].value
        else:
            message = data.error.message.strip().splitlines()[-1] if data.error else "failed"
            reasons.append(f"{event.step_key}: {message}")
    return reasons, summary


def batch_outcome(result) -> tuple[int | None, list[str]]:
    """``(predictions published or None when batch_predictions did not materialise, one-line notes)`` of a run:
    why the batch was skipped, or the warnings of an empty batch (off-season)."""
    notes: list[str] = []
    published = None
    for event in result.all_events:
        if event.event_type_value == "ASSET_OBSERVATION":
            observation = event.event_specific_data.asset_observation
            reason = observation.metadata.get("skipped_reason")
            if observation.asset_key.to_user_string() == "batch_predictions" and reason is not None:
                notes.append(f"skipped: {reason.value}")
    for event in result.get_asset_materialization_events():
        if event.asset_key and event.asset_key.to_user_string() == "batch_predictions":
            metadata = event.materialization.metadata
            published = int(metadata["predicted"].value)
            if metadata.get("warnings") is not None and metadata["warnings"].value:
                notes.append(f"warning: batch_predictions: {metadata['warnings'].value}")
    return published, notes


def ingest_seasons(defs, settings: Settings, instance, seasons: list[str], force: bool) -> tuple[dict[str, int], list[str]]:
    """Materialise raw_matches (and its checks) for the seasons: one run per contiguous range."""
    known = set(partition_seasons())  # the season partitions of raw_matches
    unknown = [s for s in seasons if s not in known]
    if unknown:
        raise ValueError(f"unknown season(s) {', '.join(unknown)}: partitions run from 9394 to next season")
    job = defs.resolve_job_def("ingest_job")
    totals = {k: 0 for k in ("files", "rows", "inserted", "updated", "unchanged", "rejected")}
    failures: list[str] = []
    run_config = {
        "ops": {"raw_matches": {"config": {"leagues": list(settings.leagues), "force": force}}},
        "loggers": QUIET_LOGGERS,
    }
    for first, last in contiguous_runs(seasons):
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
            raise_on_error=False,
        )
        summary = None
        for event in result.get_asset_materialization_events():
            summary = event.materialization.metadata["summary_json"].value
        reasons, failed_summary = failures_of(result)
        failures.extend(reasons)
        summary = summary or failed_summary
        for check in result.get_asset_check_evaluations():
            if not check.passed and check.severity == dg.AssetCheckSeverity.ERROR:
                failures.append(f"check {check.check_name} failed: {check.description}")
        for key in totals:
            totals[key] += int((summary or {}).get(key, 0))
    return totals, failures
