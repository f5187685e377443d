"""The compose stack from locally built images (issue 14, build items 2-4): TLS proxy, /metrics kept inside,
automatic backups and a restore drill, alerts delivered to a webhook. Destructive tests (stopping services) last.
"""

from __future__ import annotations

import json
import re
import ssl
import time

import httpx
import pytest

from .conftest import Stack, wait_until

# One process runs them all (`make test` starts it after the rest): the session fixtures build and start once.
pytestmark = pytest.mark.containers

ONE_SHOT = {"minio-init", "feast-apply"}
DATABASES = ("warehouse", "dagster", "mlflow", "feast_registry")


def https(stack: Stack, tmp_path_factory) -> tuple[str, ssl.SSLContext]:
    """Base URL of the proxy's HTTPS port and a context that trusts only the stack's own CA (made at start)."""
    ca = tmp_path_factory.mktemp("ca") / "root.crt"
    stack.ok("cp", "proxy:/data/caddy/pki/authorities/local/root.crt", str(ca))
    context = ssl.create_default_context(cafile=str(ca))
    return f"https://localhost:{stack.port('proxy', 443)}", context


def test_every_service_of_the_stack_is_up(stack: Stack):
    rows = [json.loads(line) for line in stack.ok("ps", "-a", "--format", "json").splitlines() if line.strip()]
    services = {row["Service"]: row for row in rows}
    print(f"stack up in {stack.started_in_s:.0f} s")
    expected = {"postgres", "redis", "minio", "mlflow", "dagster-code", "dagster-webserver", "dagster-daemon", "api",
                "proxy", "alertmanager", "prometheus", "postgres-exporter", "redis-exporter", "backup",
                "alert-receiver"} | ONE_SHOT
    assert expected <= set(services), sorted(services)
    assert "grafana" not in services  # no Debian package: left out of the local run (profile grafana)
    for name, row in services.items():
        if name in ONE_SHOT:
            assert row["State"] == "exited" and row["ExitCode"] == 0, row
        else:
            assert row["State"] == "running", row
            assert row.get("Health") in ("", "healthy"), row


def test_the_containers_get_the_stacks_settings_not_the_test_runners(stack: Stack):
    # `make test` exports FOOTBALL_ENV=local and DAGSTER_HOME=<checkout>/.football/dagster_home: Compose must not
    # interpolate them into the services (docker-compose.yml defaults to the prod profile's values).
    env = stack.exec("api", "sh", "-c", 'echo "$FOOTBALL_ENV $DAGSTER_HOME"').stdout.split()
    assert env == ["prod", "/opt/dagster/dagster_home"], env


def test_the_api_answers_over_https_with_the_stacks_own_certificate(stack: Stack, tmp_path_factory):
    base, context = https(stack, tmp_path_factory)
    response = httpx.get(f"{base}/health", verify=context, timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["strict-transport-security"].startswith("max-age=")
    # The proxy passes the API key header through: a request without one is refused by the API, with one it is not.
    assert httpx.get(f"{base}/teams", verify=context, timeout=10).status_code == 401
    keyed = httpx.get(f"{base}/teams", verify=context, timeout=10, headers={"X-API-Key": stack.env["FOOTBALL_API_KEYS"]})
    assert keyed.status_code == 200, keyed.text
    # The certificate is self-signed by the stack's CA: a client with the public trust store refuses it.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{base}/health", timeout=10)


def test_plain_http_is_redirected_to_https(stack: Stack):
    port = stack.port("proxy", 80)
    response = httpx.get(f"http://127.0.0.1:{port}/health?x=1", headers={"Host": "localhost"}, timeout=10)
    assert response.status_code in (301, 308), response
    assert response.headers["location"] == "https://localhost/health?x=1"


def test_metrics_are_scraped_inside_the_network_but_not_served_through_the_proxy(stack: Stack, tmp_path_factory):
    base, context = https(stack, tmp_path_factory)
    for route in ("/metrics", "/stats"):
        assert httpx.get(f"{base}{route}", verify=context, timeout=10).status_code == 404, route
    # Inside the network too, /metrics needs the scrape key (scope metrics), which Prometheus sends as a bearer token.
    anonymous = stack.exec("prometheus", "wget", "-S", "-qO-", "http://api:8000/metrics")
    assert anonymous.returncode != 0 and "401" in anonymous.stderr, anonymous.stderr
    prometheus = f"http://127.0.0.1:{stack.port('prometheus', 9090)}"

    def scraped() -> dict | None:
        result = httpx.get(f"{prometheus}/api/v1/query", params={"query": 'up{component="api"}'}, timeout=5).json()
        values = result["data"]["result"]
        return values[0] if values and values[0]["value"][1] == "1" else None

    up = wait_until(scraped, 90, 'Prometheus to scrape the API (up{component="api"} == 1)')
    assert up["metric"]["instance"] == "api:8000"
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert sum(len(group["rules"]) for group in rules) >= 12
    alertmanagers = httpx.get(f"{prometheus}/api/v1/alertmanagers", timeout=5).json()["data"]["activeAlertmanagers"]
    assert [am["url"] for am in alertmanagers] == ["http://alertmanager:9093/api/v2/alerts"]


def test_the_backup_service_dumps_every_database_on_its_schedule(stack: Stack):
    # BACKUP_AT was set to three minutes after the stack's start: nobody triggers this run.
    def complete() -> list[str] | None:
        names = sorted(p.name for p in stack.backup_dir.glob("*.dump"))
        done = all(any(n.startswith(f"{db}-") for n in names) for db in DATABASES)
        return names if done and all((stack.backup_dir / f"{n}.sha256").exists() for n in names) else None

    names = wait_until(complete, 360, f"the scheduled backup at {stack.env['BACKUP_AT']} UTC")
    for name in names:
        assert (stack.backup_dir / name).stat().st_size > 0
        assert stack.exec("backup", "sh", "-c", f"cd /backups && sha256sum -c {name}.sha256").returncode == 0
    logs = stack.logs("backup")
    assert "backup complete" in logs and re.search(r"next backup at \d{4}-\d\d-\d\dT" + stack.env["BACKUP_AT"], logs)
    assert "--keep-days" not in logs  # retention defaults to the service's 30 days
    assert stack.exec("backup", "sh", "-c", 'test "$BACKUP_KEEP_DAYS" = 30').returncode == 0


def test_restore_drill_dump_drop_restore_gives_the_same_rows_and_the_api_answers(stack: Stack, tmp_path_factory):
    ingest = stack.exec("dagster-code", "football-platform", "ingest", "--source", "/data", "--leagues", "E0",
                        "--seasons", "2223:2324", timeout=600)
    assert ingest.returncode == 0, ingest.stdout[-2000:] + ingest.stderr[-2000:]
    assert json.loads(ingest.stdout.strip().splitlines()[-1])["rows"] == 760
    # Exact row counts of every table of the warehouse, one string (count(*) per table through query_to_xml).
    count_sql = (
        "SELECT string_agg(table_schema || '.' || table_name || '=' || (xpath('/row/c/text()', query_to_xml("
        "format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text, ',' "
        "ORDER BY table_schema, table_name) FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
    )
    exact_sql = "SELECT count(*) FROM raw.matches"
    # As the runbook's restore: writers stopped first (the daemon's sensors write ops.alerts into the warehouse).
    stack.ok("stop", "dagster-daemon")
    before = (stack.psql(exact_sql, "warehouse"), stack.psql(count_sql, "warehouse"))
    assert before[0] == "760"

    dump = stack.exec("backup", "/opt/football/backup.sh", "--out", "/backups", "warehouse")
    assert dump.returncode == 0, dump.stderr
    path = re.search(r"-> (/backups/warehouse-\S+\.dump)", dump.stdout).group(1)
    stack.psql("DROP DATABASE warehouse WITH (FORCE)")
    assert stack.psql("SELECT count(*) FROM pg_database WHERE datname = 'warehouse'") == "0"
    base, context = https(stack, tmp_path_factory)
    keyed = {"X-API-Key": stack.env["FOOTBALL_API_KEYS"]}  # diagnostics need a read key
    assert httpx.get(f"{base}/health/database", headers=keyed, verify=context, timeout=15).status_code == 503

    restore = stack.exec("backup", "/opt/football/restore.sh", path, "warehouse", "--create")
    assert restore.returncode == 0, restore.stdout + restore.stderr
    after = (stack.psql(exact_sql, "warehouse"), stack.psql(count_sql, "warehouse"))
    assert after == before
    wait_until(lambda: httpx.get(f"{base}/health/database", headers=keyed, verify=context,
                                       timeout=5).json()["status"] == "ok",
               60, "the API to answer /health/database after the restore")
    stack.ok("start", "dagster-daemon")


def _delivered(stack: Stack, alertname: str) -> float | None:
    """Arrival time of the first firing delivery of ``alertname`` at the webhook receiver."""
    port = stack.port("alert-receiver", 9095)
    for delivery in httpx.get(f"http://127.0.0.1:{port}/alerts", timeout=5).json():
        body = delivery["body"]
        for alert in body.get("alerts", []):
            if alert["labels"].get("alertname") == alertname and alert["status"] == "firing":
                return delivery["received_at"]
    return None


def test_stopping_the_database_and_the_api_delivers_alerts_to_the_webhook(stack: Stack):
    assert _delivered(stack, "DatabaseDown") is None and _delivered(stack, "APIDown") is None
    stopped = time.time()
    stack.ok("stop", "--timeout", "10", "postgres", "api")
    db_at = wait_until(lambda: _delivered(stack, "DatabaseDown"), 300, "DatabaseDown at the webhook receiver",
                       interval=5)
    api_at = wait_until(lambda: _delivered(stack, "APIDown"), 300, "APIDown at the webhook receiver", interval=5)
    print(f"alert delivery after the stop: DatabaseDown {db_at - stopped:.0f} s, APIDown {api_at - stopped:.0f} s")
    # The rules hold DatabaseDown 1 minute and APIDown 2 minutes before firing.
    assert db_at - stopped >= 60 and api_at - stopped >= 120
