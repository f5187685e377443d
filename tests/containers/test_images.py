"""The images built here start and do their jobs (issue 14, build item 1 and the image-side smaller items)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import REDIS_TEST_URL
from tests.deploy.conftest import free_port

from .conftest import DEV_IMAGE, PROD_IMAGE, BuiltImages, check, run, wait_until

# One process runs them all (`make test` starts it after the rest): the session fixtures build and start once.
pytestmark = pytest.mark.containers


SERVE_KEY = uuid.uuid4().hex


def prod_env(database_url: str) -> list[str]:
    """`docker run -e` arguments: the prod profile against the host's PostgreSQL (one throw-away database)."""
    host, name = "127.0.0.1", database_url.rsplit("/", 1)[1]
    env = {
        "DATABASE_URL": database_url,
        "MLFLOW_TRACKING_URI": database_url.replace("postgresql://", "postgresql+psycopg2://"),
        "REDIS_URL": REDIS_TEST_URL,
        "FOOTBALL_REDIS_PREFIX": f"containers-{uuid.uuid4().hex[:8]}",
        "FOOTBALL_API_KEYS": SERVE_KEY,  # the diagnostics routes need a read key
        "DAGSTER_PG_HOST": host, "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": name,
    }
    return [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]


def test_both_images_are_built_with_their_sizes(images: BuiltImages):
    for name in (PROD_IMAGE, DEV_IMAGE):
        # 1.0-2.5 GB: the pinned stack (Dagster, dbt, Feast, MLflow, CatBoost) on Debian bookworm.
        assert 0.8e9 < images.sizes[name] < 3e9, images.sizes


def test_dev_image_validates_the_definitions_on_the_local_profile(images):
    # No DAGSTER_PG_* and no manifest from the host: the image parses dbt itself and uses the SQLite instance.
    result = check(["docker", "run", "--rm", DEV_IMAGE, "dagster", "definitions", "validate",
                    "-m", "football_platform.definitions"], timeout=300, what="dagster definitions validate (dev)")
    assert "All code locations passed validation" in result.stdout + result.stderr
    env = check(["docker", "run", "--rm", DEV_IMAGE, "sh", "-c", 'echo "$FOOTBALL_ENV $DAGSTER_HOME"; id -u; '
                 "test -s dbt_project/target/manifest.json && echo manifest"]).stdout.split()
    assert env[:2] == ["local", "/opt/dagster/local_home"] and env[2] != "0" and env[3] == "manifest", env


def test_prod_image_validates_as_non_root_on_a_read_only_root(images, host_database):
    result = check(["docker", "run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp",
                    *prod_env(host_database), PROD_IMAGE,
                    "dagster", "definitions", "validate", "-m", "football_platform.definitions"],
                   timeout=300, what="dagster definitions validate (prod, read-only)")
    assert "All code locations passed validation" in result.stdout + result.stderr
    uid = check(["docker", "run", "--rm", PROD_IMAGE, "id", "-u"]).stdout.strip()
    assert uid == "10001"
    # The root file system really is read-only for the service user (and the code is not writable even without it).
    assert run(["docker", "run", "--rm", "--read-only", PROD_IMAGE, "touch", "/app/x"]).returncode != 0
    assert run(["docker", "run", "--rm", PROD_IMAGE, "touch", "/app/football_platform/x"]).returncode != 0


def test_prod_image_carries_dagster_k8s_of_the_dagster_family(images):
    out = check(["docker", "run", "--rm", PROD_IMAGE, "python", "-c",
                 "import dagster, dagster_k8s; print(dagster.__version__, dagster_k8s.__version__)"]).stdout.split()
    dagster, k8s = out
    assert dagster.startswith("1.13.") and k8s == "0.29." + dagster.split(".")[2], out


def test_prod_image_serves_health_against_the_host_services(images, host_database):
    port = free_port()  # --network host: a free port of this machine (never 8000)
    name = f"fp-serve-{uuid.uuid4().hex[:8]}"
    check(["docker", "run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp",
           *prod_env(host_database), PROD_IMAGE,
           "football-platform", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/health", timeout=3).status_code == 200, 180,
                   f"/health of the prod image on port {port}")
        keyed = {"X-API-Key": SERVE_KEY}
        assert httpx.get(f"{base}/health/database", headers=keyed, timeout=5).json()["status"] == "ok"
        assert httpx.get(f"{base}/health/redis", headers=keyed, timeout=5).json()["status"] == "ok"
        # The image's own HEALTHCHECK command (what Docker and ECS run) passes inside the container.
        check(["docker", "exec", name, "python", "-c",
               "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen("
               f"'http://127.0.0.1:{port}/health', timeout=4).status == 200 else 1)"])
    finally:
        logs = run(["docker", "logs", "--tail", "30", name]).stderr
        run(["docker", "rm", "-f", name])
        print(logs)
