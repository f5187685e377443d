"""Prometheus config and alert rules (promtool), Grafana provisioning, and the metric contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from .conftest import REPO_ROOT, free_port, run, system_binary
from .metrics_contract import (
    API_METRICS,
    POSTGRES_EXPORTER_METRICS,
    REDIS_EXPORTER_METRICS,
    all_queryable_names,
    exposed_sample_names,
)
from .promql import metric_names

PROM_DIR = REPO_ROOT / "deploy" / "prometheus"
GRAFANA_DIR = REPO_ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
REQUIRED_ALERTS = {"HighErrorRate", "DatabaseDown", "StaleData", "ModelDrift", "APILatencyHigh"}


def promtool() -> str:
    return system_binary("promtool", "prometheus")


def alert_rules() -> list[dict]:
    doc = yaml.safe_load((PROM_DIR / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every target of every panel."""
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
    return out


# --- the PromQL name extractor itself --------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum by (route) (rate(football_api_requests_total{status=~"5.."}[5m]))', {"football_api_requests_total"}),
        ("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) > 0.5", {"x_bucket"}),
        ("a - on() group_left() b", {"a", "b"}),
        ('max(pg_up) or up{job="postgres"} == 0 and absent(foo)', {"pg_up", "up", "foo"}),
        ("clamp_min(sum(rate(m_total[1h])), 1e-9) / 3600", {"m_total"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
    ],
)
def test_metric_name_extraction(expr, expected):
    assert metric_names(expr) == expected


# --- promtool ---------------------------------------------------------------------------------------
def test_prometheus_config_and_rule_files_are_valid(tmp_path):
    config = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    # The container path of the rule file becomes the copy next to the config.
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    config["rule_files"] = ["alerts.yml"]
    shutil.copy(PROM_DIR / "alerts.yml", tmp_path / "alerts.yml")
    # The API is scraped with a bearer token from the file the compose entrypoint writes; promtool checks it exists.
    (api,) = [job for job in config["scrape_configs"] if job["job_name"] == "football-api"]
    assert api["authorization"] == {"type": "Bearer", "credentials_file": "/tmp/metrics_key"}
    (tmp_path / "metrics_key").write_text("k")
    api["authorization"]["credentials_file"] = str(tmp_path / "metrics_key")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = run([promtool(), "check", "config", str(tmp_path / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert jobs["football-api"] == ["api:8000"]
    assert jobs["postgres"] == ["postgres-exporter:9187"]
    assert jobs["redis"] == ["redis-exporter:9121"]


def test_alert_rules_pass_their_promtool_unit_tests():
    result = run([promtool(), "test", "rules", str(PROM_DIR / "tests" / "alerts_test.yml")], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_fires_it():
    tests = yaml.safe_load((PROM_DIR / "tests" / "alerts_test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    names = {rule["alert"] for rule in alert_rules()}
    assert names >= REQUIRED_ALERTS
    assert names == fired, f"alerts never shown firing in a unit test: {sorted(names - fired)}"


def test_alerts_link_to_runbook_sections():
    runbook = (REPO_ROOT / "docs" / "runbook.md").read_text().lower()
    for rule in alert_rules():
        link = rule["annotations"]["runbook"]
        assert link == f"docs/runbook.md#{rule['alert'].lower()}"
        assert f"### {rule['alert'].lower()}" in runbook, f"runbook has no section for {rule['alert']}"


def test_dashboard_queries_are_valid_promql(tmp_path):
    # promtool parses every panel query as a recording rule: a typo in a dashboard fails here.
    rules = [{"record": f"dashboard:check:{i}", "expr": expr} for i, (_f, _t, expr) in enumerate(panel_queries())]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run([promtool(), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


# --- the metric contract ----------------------------------------------------------------------------
def test_alerts_and_dashboards_only_query_exposed_metrics():
    allowed = all_queryable_names()
    used = [("alerts.yml", rule["alert"], rule["expr"]) for rule in alert_rules()] + panel_queries()
    unknown = {(where, title, name) for where, title, expr in used for name in metric_names(expr) - allowed}
    assert not unknown, f"queries use metrics nobody exposes: {sorted(unknown)}"


def test_every_api_metric_is_used_and_documented():
    used = set()
    for expr in [rule["expr"] for rule in alert_rules()] + [q[2] for q in panel_queries()]:
        used |= metric_names(expr)
    docs = (REPO_ROOT / "docs" / "metrics.md").read_text()
    for name, (_kind, labels) in API_METRICS.items():
        variants = {name, f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        assert used & variants, f"{name} is neither alerted on nor charted"
        assert f"`{name}`" in docs, f"docs/metrics.md does not document {name}"
        for label in labels:
            assert label in docs


def test_the_api_metrics_module_exposes_the_contract():
    # The serving API's own registry, rendered exactly as GET /metrics renders it.
    from prometheus_client.parser import text_string_to_metric_families

    import serving.metrics as serving_metrics

    metrics = serving_metrics.Metrics()
    metrics.requests.labels(route="/health", method="GET", status="200").inc()
    metrics.duration.labels(route="/health").observe(0.002)
    metrics.set_model("football-match-outcome", "3")
    metrics.predictions_served.labels(route="/predictions").inc()
    metrics.feature_misses.inc()
    metrics.cache_requests.labels(result="hit").inc()
    metrics.model_rolling_rps.labels(model="catboost").set(0.2)
    metrics.closing_rolling_rps.set(0.195)
    metrics.data_freshness.labels(asset="raw_matches").set(60)
    metrics.model_age.set(3600)
    samples = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(k for k in sample.labels if k != "le")
    for name, (kind, labels) in API_METRICS.items():
        for exposed in exposed_sample_names(name, kind):
            assert exposed in samples, f"/metrics lacks {exposed}"
            assert samples[exposed] == set(labels), f"{exposed}: labels {samples[exposed]} != {set(labels)}"


def _scrape(port: int, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _series_names(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


@pytest.mark.parametrize(
    ("binary", "package", "args", "env", "expected"),
    [
        (
            "prometheus-postgres-exporter",
            "prometheus-postgres-exporter",
            ["--web.listen-address=127.0.0.1:{port}"],
            {"DATA_SOURCE_NAME": "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"},
            POSTGRES_EXPORTER_METRICS,
        ),
        (
            "prometheus-redis-exporter",
            "prometheus-redis-exporter",
            ["-redis.addr", "redis://127.0.0.1:6379", "-web.listen-address", "127.0.0.1:{port}"],
            {},
            REDIS_EXPORTER_METRICS,
        ),
    ],
    ids=["postgres_exporter", "redis_exporter"],
)
def test_exporters_really_expose_the_metrics_we_query(binary, package, args, env, expected):
    # The real exporters (Debian's builds) against the real PostgreSQL and Redis of this machine.
    path = system_binary(binary, package)
    port = free_port()
    proc = subprocess.Popen(
        [path, *[a.format(port=port) for a in args]],
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        text = _scrape(port, time.monotonic() + 20)
        names = _series_names(text)
        missing = expected - names
        assert not missing, f"{binary} does not expose {sorted(missing)}"
        up = "pg_up" if "postgres" in binary else "redis_up"
        assert f"{up} 1" in text, f"{binary} could not reach its server"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- Grafana provisioning ----------------------------------------------------------------------------
def test_grafana_provisioning_and_dashboards_are_consistent():
    datasources = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text())
    (ds,) = datasources["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/football.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in compose["services"]["grafana"]["volumes"]

    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] not in uids
        uids.add(board["uid"])
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        cells = set()
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == ds["uid"], f"{path.name}/{panel['title']}: wrong data source"
            assert panel["targets"], f"{path.name}/{panel['title']}: no query"
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{path.name}: panel {panel['title']!r} overlaps another"
                    cells.add((x, y))
    assert {"football-api", "football-database", "football-business"} == uids


def test_business_dashboard_compares_with_the_closing_line():
    board = json.loads((GRAFANA_DIR / "dashboards/football-business.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    for name in ("football_model_rolling_rps", "football_closing_rolling_rps", "football_data_freshness_seconds"):
        assert name in exprs
