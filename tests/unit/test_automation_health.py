"""Pure on-call logic: drift, retention, health status, season partitions for the schedule, alert payloads."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from football_platform.defs.automation.schedules import season_partition_for
from football_platform.lib.alerts import Alert, Delivery, alert_rows, dumps_pending, loads_pending, slack_payload
from football_platform.lib.health import (
    DEGRADED,
    HEALTHY,
    UNKNOWN,
    WARNING,
    AssetHealth,
    CheckState,
    freshness_from_checks,
    freshness_from_policy,
    health_frame,
    health_markdown,
    pick_time_column,
    poll_run_key,
    retention_cutoff,
    rps_drift,
)

NOW = dt.datetime(2026, 11, 28, 7, 0, tzinfo=dt.UTC)


def _performance(rows: list[tuple[str, float | None, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["match_date", "rps_model", "rps_closing"])


def test_drift_uses_only_the_last_window_of_settled_matches():
    # Oldest two matches are terrible but fall outside a window of 3; the NULL row is not settled.
    frame = _performance(
        [
            ("2024-01-01", 0.90, 0.10),
            ("2024-01-02", 0.90, 0.10),
            ("2024-01-03", 0.20, 0.18),
            ("2024-01-04", 0.30, None),
            ("2024-01-05", 0.25, 0.19),
            ("2024-01-06", 0.21, 0.20),
        ]
    )
    status = rps_drift(frame, window=3, max_gap=0.02, min_matches=3)
    assert status.matches == 3
    assert status.rps_model == pytest.approx((0.20 + 0.25 + 0.21) / 3)  # 0.22
    assert status.rps_closing == pytest.approx((0.18 + 0.19 + 0.20) / 3)  # 0.19
    assert status.gap == pytest.approx(0.03)
    assert status.drifted
    assert (status.first_date, status.last_date) == ("2024-01-03", "2024-01-06")


def test_drift_needs_enough_matches_and_a_gap_above_the_threshold():
    frame = _performance([("2024-01-01", 0.30, 0.19), ("2024-01-02", 0.30, 0.19)])
    assert not rps_drift(frame, window=10, max_gap=0.015, min_matches=3).drifted  # 2 < 3 matches
    close = _performance([(f"2024-01-0{d}", 0.200, 0.190) for d in range(1, 6)])
    assert not rps_drift(close, window=10, max_gap=0.015, min_matches=3).drifted  # gap 0.010
    empty = rps_drift(_performance([]), window=10, max_gap=0.015, min_matches=3)
    assert empty.matches == 0 and empty.gap is None and not empty.drifted


def test_drift_names_a_missing_column():
    with pytest.raises(ValueError, match="rps_closing"):
        rps_drift(pd.DataFrame({"match_date": [], "rps_model": []}), window=5, max_gap=0.01, min_matches=1)


def test_retention_cutoff_and_its_guards():
    assert retention_cutoff(NOW, 30) == dt.datetime(2026, 10, 29, 7, 0, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="at least 1 day"):
        retention_cutoff(NOW, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        retention_cutoff(NOW.replace(tzinfo=None), 5)


def test_prediction_time_column_is_the_first_candidate_present():
    assert pick_time_column(["div", "match_date", "created_at", "predicted_at"]) == "predicted_at"
    assert pick_time_column(["div", "CREATED_AT"]) == "created_at"
    assert pick_time_column(["div", "match_date"]) is None


def test_health_status_ranks_failures():
    built = NOW - dt.timedelta(hours=3)
    ok = CheckState("a", True)
    warn = CheckState("b", False, severity="WARN")
    err = CheckState("c", False, severity="ERROR")
    never_run = CheckState("d", None)
    assert AssetHealth("x", "g", built, "r", (ok, never_run)).status == HEALTHY
    assert AssetHealth("x", "g", built, "r", (ok, warn)).status == WARNING
    assert AssetHealth("x", "g", built, "r", (warn, err)).status == DEGRADED
    assert AssetHealth("x", "g", built, "r", (ok,), fresh=False).status == DEGRADED
    assert AssetHealth("x", "g", None, None, (ok,)).status == UNKNOWN
    assert [c.result for c in (ok, warn, err, never_run)] == ["PASSED", "WARNED", "FAILED", "NOT_RUN"]


def test_freshness_verdicts():
    window = dt.timedelta(hours=30)
    assert freshness_from_policy(NOW - dt.timedelta(hours=29), window, NOW) is True
    assert freshness_from_policy(NOW - dt.timedelta(hours=31), window, NOW) is False
    assert freshness_from_policy(None, window, NOW) is False
    fresh = CheckState("freshness_check", True, is_freshness=True)
    stale = CheckState("freshness_check", False, severity="WARN", is_freshness=True)
    other = CheckState("raw_matches_expectations", False)
    assert freshness_from_checks([fresh, other]) is True  # a failed data check is not staleness
    assert freshness_from_checks([stale]) is False
    assert freshness_from_checks([other, CheckState("freshness_check", None, is_freshness=True)]) is None


def test_health_frame_and_markdown():
    report = [
        AssetHealth(
            "raw_matches",
            "ingestion",
            NOW - dt.timedelta(hours=6),
            "run-1",
            (CheckState("raw_odds_overround", False, severity="WARN"), CheckState("raw_matches_expectations", True)),
        ),
        AssetHealth(
            "production_model",
            "ml",
            NOW - dt.timedelta(days=9),
            "run-2",
            (CheckState("freshness_check", False, severity="WARN", is_freshness=True),),
            fresh=False,
            freshness_source="check",
        ),
        AssetHealth("match_features", "features", None, None),
    ]
    frame = health_frame(report, NOW).set_index("asset_key")
    assert frame.loc["raw_matches", "status"] == WARNING
    assert frame.loc["raw_matches", "age_hours"] == 6.0
    assert frame.loc["raw_matches", "checks_warned"] == 1 and frame.loc["raw_matches", "checks_passed"] == 1
    assert frame.loc["raw_matches", "failing_checks"] == "raw_odds_overround"
    assert json.loads(frame.loc["raw_matches", "check_results"])["raw_odds_overround"]["result"] == "WARNED"
    assert frame.loc["production_model", "status"] == DEGRADED and not frame.loc["production_model", "fresh"]
    assert frame.loc["production_model", "age_hours"] == 216.0
    assert frame.loc["match_features", "status"] == UNKNOWN and pd.isna(frame.loc["match_features", "fresh"])
    text = health_markdown(report, NOW)
    assert "1 degraded, 1 warning, 0 healthy, 1 unknown" in text
    # Worst first, and never-materialised assets listed.
    assert text.index("production_model") < text.index("raw_matches")
    assert "Never materialised (1): match_features" in text


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (dt.datetime(2026, 11, 28, tzinfo=dt.UTC), "2627"),
        (dt.datetime(2024, 3, 1, tzinfo=dt.UTC), "2324"),
        (dt.datetime(2024, 7, 1, tzinfo=dt.UTC), "2425"),
        (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), "9900"),
    ],
)
def test_schedule_season_is_the_one_in_play(when: dt.datetime, expected: str):
    keys = ["9394", "9900", "2324", "2425", "2627"]
    assert season_partition_for(when, keys) == expected


def test_schedule_season_falls_back_to_the_newest_known_partition():
    # A location loaded in June 2027 knows seasons up to '2627'; on 1 July the in-play season '2728' is unknown.
    keys = ["9394", "9900", "2526", "2627"]
    assert season_partition_for(dt.datetime(2027, 7, 1, tzinfo=dt.UTC), keys) == "2627"


def test_poll_run_key_changes_with_the_file_version():
    versions = {"2324/E0.csv": {"sha256": "aaa", "etag": None}, "2324/SP1.csv": {"sha256": "bbb", "etag": '"x"'}}
    key = poll_run_key("2324", ["SP1", "E0"], versions)
    assert key == "2324:E0=aaa,SP1=bbb"
    versions["2324/E0.csv"] = {"sha256": "ccc", "etag": None}
    assert poll_run_key("2324", ["E0", "SP1"], versions) != key


def _alert(**overrides) -> Alert:
    base = dict(
        kind="check_failure",
        severity="error",
        title="Check raw_matches_expectations on raw_matches failed (ERROR)",
        message="goals out of range",
        dedupe_key="run-1:raw_matches:raw_matches_expectations:42",
        asset_key="raw_matches",
        check_name="raw_matches_expectations",
        run_id="run-1",
        link="http://dagster:3000/runs/run-1",
        fields={"unexpected_total": "3"},
        created_at=NOW,
    )
    return Alert(**{**base, **overrides})


def test_slack_payload_has_text_and_blocks():
    payload = slack_payload(_alert())
    assert payload["text"].startswith(":rotating_light: [ERROR] Check raw_matches_expectations")
    assert "goals out of range" in payload["text"]
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and "context" in kinds
    fields = next(b["fields"] for b in payload["blocks"] if "fields" in b)
    assert {"type": "mrkdwn", "text": "*asset*\nraw_matches"} in fields
    assert {"type": "mrkdwn", "text": "*unexpected_total*\n3"} in fields
    assert any("<http://dagster:3000/runs/run-1|Open in Dagster>" in json.dumps(b) for b in payload["blocks"])
    json.dumps(payload)  # JSON-serialisable as sent


def test_slack_payload_clips_long_messages():
    payload = slack_payload(_alert(message="x" * 10_000))
    section = payload["blocks"][1]["text"]["text"]
    assert len(section) == 2_900 and section.endswith("…")
    assert len(payload["text"]) == 2_900


def test_alert_validation_and_identity():
    with pytest.raises(ValueError, match="severity"):
        _alert(severity="critical")
    with pytest.raises(ValueError, match="timezone-aware"):
        _alert(created_at=dt.datetime(2026, 1, 1))
    assert _alert().alert_id == _alert(message="other text").alert_id  # same thing alerted twice: one id
    assert _alert().alert_id != _alert(dedupe_key="run-2:raw_matches:raw_matches_expectations:43").alert_id
    assert len(_alert().alert_id) == 32


def test_alert_rows_and_pending_round_trip():
    pairs = [
        (_alert(), Delivery(True, None, 200)),
        (_alert(), Delivery(True)),
        (_alert(dedupe_key="b"), Delivery(False, "HTTP 500")),
    ]
    rows = alert_rows(pairs)
    assert len(rows) == 2  # duplicates collapse on alert_id
    assert rows["delivered"].tolist() == [True, False]
    assert rows["delivery_error"].tolist()[1] == "HTTP 500"
    assert rows["message"].iloc[0] == "Check raw_matches_expectations on raw_matches failed (ERROR): goals out of range"
    restored = loads_pending(json.loads(json.dumps(dumps_pending(pairs))))
    assert restored == pairs
