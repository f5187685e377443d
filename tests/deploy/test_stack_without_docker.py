"""The stack without Docker: the `prod` profile end to end on this machine, wired like docker-compose.yml.

Every process gets exactly the environment its compose service declares, resolved from .env.example with
the secrets filled in; only addresses (hostnames, ports), database names and container paths are rewritten
to what this test starts here (tests/deploy/local_stack.py lists the rewrites):

* PostgreSQL (the running server): four temporary databases made by deploy/postgres/init-databases.sh,
  as the compose `postgres` service does (warehouse, dagster, mlflow, feast_registry); Feast's SQL registry
  must end up in the feast_registry one (FEAST_REGISTRY_URL) and not in the warehouse;
* Redis (the running server): a unique FOOTBALL_REDIS_PREFIX, which also names the Feast project;
* an S3-compatible server (moto in server mode) standing in for MinIO, bucket made like `minio-init`;
* the compose `mlflow server` command (PostgreSQL backend, artifacts on s3://mlflow/);
* `football-platform run` (ingest, dbt, Feast, training, the promotion gate, batch predictions) with the
  Dagster instance of deploy/dagster/dagster.yaml (PostgreSQL storage);
* the compose `api` command, `football-platform serve`, asked over HTTP with an API key.

The model the API serves is the version the alias `production` points at in the MLflow server, and its
artifacts exist only in the S3 server (issue 9: a model logged to the S3-compatible store loads back in
the API).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest

from tests.conftest import FOOTBALL_DATA, REDIS_TEST_URL

from . import local_stack as ls
from .conftest import ADMIN_DSN, PG_ENV, REPO_ROOT, free_port, system_binary

LEAGUE = "E0"
SEASONS = "2122:2324"  # three complete seasons: train on one, walk-forward on two
MODEL_NAME = "football-match-outcome"
INIT_SCRIPT = REPO_ROOT / "deploy" / "postgres" / "init-databases.sh"
DAGSTER_CONFIG = REPO_ROOT / "deploy" / "dagster"
CONTAINER_DAGSTER_HOME = "/opt/dagster/dagster_home"
CONTAINER_STATE_DIR = "/app/.football"


@dataclass
class Stack:
    app_env: dict[str, str]  # the api / dagster-code service environment, rewritten for this machine
    compose: dict
    tracking_uri: str
    s3_endpoint: str
    bucket: str
    api_key: str
    redis_prefix: str
    databases: dict[str, str]  # compose database name -> the temporary database standing in for it here
    tmp: Path
    exits: ExitStack

    def s3(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=self.app_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.app_env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )

    def mlflow_get(self, path: str) -> dict:
        """The MLflow server's REST API, read directly (what the registry really holds)."""
        with urllib.request.urlopen(f"{self.tracking_uri}/api/2.0/mlflow/{path}", timeout=30) as resp:
            return json.loads(resp.read())


def _redis_keys(url: str, prefix: str) -> list[bytes]:
    """Keys the stack wrote: the serving keys start with the prefix, Feast's end with its project (the prefix)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return [key for pattern in (f"{prefix}:*", f"*{prefix}") for key in client.scan_iter(match=pattern, count=1000)]
    finally:
        client.close()


def _redis_cleanup(url: str, prefix: str) -> None:
    import redis

    keys = _redis_keys(url, prefix)
    client = redis.Redis.from_url(url)
    try:
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()
    left = _redis_keys(url, prefix)
    assert not left, f"{len(left)} Redis keys of prefix {prefix!r} survived the clean-up"


def _init_databases(names: list[str]) -> None:
    """deploy/postgres/init-databases.sh, as the compose `postgres` service runs it on first start."""
    system_binary("psql", "postgresql-client")
    env = os.environ | PG_ENV | {"POSTGRES_USER": "postgres", "FOOTBALL_INIT_DATABASES": " ".join(names)}
    result = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _admin_dsn(database: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


# Tables Feast's SQL registry creates (feast/infra/registry/sql.py); two of them are enough to recognise it.
FEAST_REGISTRY_TABLES = ("feast_metadata", "feature_views")


def _feast_registry_tables(database: str) -> set[str]:
    """Which of Feast's SQL-registry tables exist in ``database`` (any schema)."""
    with psycopg.connect(_admin_dsn(database)) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name = ANY(%s)", (list(FEAST_REGISTRY_TABLES),)
        )
        return {row[0] for row in rows}


@pytest.fixture
def stack(tmp_path: Path, temp_database_factory) -> Iterator[Stack]:
    suffix = uuid.uuid4().hex[:8]
    # temp_database_factory drops these at the end (after this fixture has stopped every process).
    databases = {
        name: temp_database_factory(f"{name}_stack", create=False)
        for name in ("warehouse", "dagster", "mlflow", "feast_registry")
    }
    _init_databases(list(databases.values()))

    s3_port, mlflow_port = free_port(), free_port()
    pg = urlsplit(ADMIN_DSN)
    redis_url = urlsplit(REDIS_TEST_URL)
    hosts = {
        "postgres": (pg.hostname or "127.0.0.1", pg.port or 5432),
        "redis": (redis_url.hostname or "127.0.0.1", redis_url.port or 6379),
        "mlflow": ("127.0.0.1", mlflow_port),
        "minio": ("127.0.0.1", s3_port),
    }
    paths = {CONTAINER_STATE_DIR: str(tmp_path / "state"), CONTAINER_DAGSTER_HOME: str(tmp_path / "dagster_home")}
    api_key = f"stack-test-{uuid.uuid4().hex}"
    prefix = f"fp_stack_{suffix}"
    # What an operator writes in .env: the secrets, the PostgreSQL login of this server, the data folder
    # (compose mounts FOOTBALL_DATA_DIR at /data), one league, an API key and a Redis prefix.
    compose = ls.resolved_compose(
        ls.dotenv(
            POSTGRES_USER=pg.username or "postgres",
            FOOTBALL_DATA_SOURCE=str(FOOTBALL_DATA),
            FOOTBALL_LEAGUES=LEAGUE,
            FOOTBALL_API_KEYS=api_key,
            FOOTBALL_REDIS_PREFIX=prefix,
        )
    )
    # The test Redis has no password (compose's has one): AUTH would be refused, so it is left out of REDIS_URL.
    app_env = ls.to_this_machine(ls.service_env(compose, "api"), hosts, databases, paths, redis_auth=False)
    # The platform's containers all share one environment (x-app-env).
    for service in ("dagster-code", "feast-apply"):
        assert ls.service_env(compose, service) == ls.service_env(compose, "api"), service

    # DAGSTER_HOME as the image builds it: deploy/dagster/dagster.yaml (PostgreSQL storage from DAGSTER_PG_*).
    home = Path(app_env["DAGSTER_HOME"])
    home.mkdir(parents=True)
    for name in ("dagster.yaml", "workspace.yaml"):
        text = (DAGSTER_CONFIG / name).read_text().replace(CONTAINER_DAGSTER_HOME, str(home))
        (home / name).write_text(text)

    exits = ExitStack()
    exits.callback(_redis_cleanup, app_env["REDIS_URL"], prefix)
    with exits:
        # S3-compatible store in MinIO's place; the bucket and versioning as `minio-init` sets them up.
        moto = ls.start(
            [str(ls.VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
            ls.process_env({}),
            tmp_path / "s3.log",
        )
        exits.callback(ls.stop, moto)
        mlflow_cmd = ls.service_command(compose, "mlflow")
        root = mlflow_cmd[mlflow_cmd.index("--default-artifact-root") + 1]
        assert mlflow_cmd[mlflow_cmd.index("--artifacts-destination") + 1] == root
        bucket = urlsplit(root).netloc
        assert urlsplit(root).scheme == "s3" and bucket
        backend = ls.to_this_machine(
            {"URI": mlflow_cmd[mlflow_cmd.index("--backend-store-uri") + 1]}, hosts, databases
        )["URI"]
        mlflow_env = ls.to_this_machine(ls.service_env(compose, "mlflow"), hosts, databases, paths)
        mlflow = ls.start(
            ls.compose_mlflow_command(mlflow_cmd, backend, mlflow_port),
            ls.process_env(mlflow_env),
            tmp_path / "mlflow.log",
        )
        exits.callback(ls.stop, mlflow)

        stack = Stack(
            app_env=app_env,
            compose=compose,
            tracking_uri=app_env["MLFLOW_TRACKING_URI"],
            s3_endpoint=app_env["MLFLOW_S3_ENDPOINT_URL"],
            bucket=bucket,
            api_key=api_key,
            redis_prefix=prefix,
            databases=databases,
            tmp=tmp_path,
            exits=exits,
        )
        # compose: the one-shot `feast-apply` needs only PostgreSQL and Redis; it runs while MLflow boots.
        feast_apply = subprocess.run(
            ls.service_command(compose, "feast-apply"),
            env=ls.process_env(app_env),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        (tmp_path / "feast-apply.log").write_text(feast_apply.stdout + feast_apply.stderr)
        assert feast_apply.returncode == 0, f"feast-apply failed:\n{feast_apply.stderr[-6000:]}"
        assert "RUN_SUCCESS" in feast_apply.stderr + feast_apply.stdout
        # ... into Feast's SQL registry in its own database, feast_registry (FEAST_REGISTRY_URL; project = the
        # Redis prefix): not a file in the container, and not the warehouse database.
        assert urlsplit(app_env["FEAST_REGISTRY_URL"]).path == "/" + databases["feast_registry"]
        with psycopg.connect(_admin_dsn(databases["feast_registry"])) as conn:
            rows = conn.execute("SELECT feature_view_name FROM feature_views WHERE project_id = %s", (prefix,))
            views = {row[0] for row in rows}
        assert {"team_ratings", "team_form", "team_schedule"} <= views, views
        assert not _feast_registry_tables(databases["warehouse"]), "Feast registry tables in the warehouse database"
        ls.wait_http(f"{stack.s3_endpoint}/moto-api/", moto, 60, tmp_path / "s3.log")
        s3 = stack.s3()
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        # compose: dagster-code and api start once mlflow is healthy.
        ls.wait_http(f"{stack.tracking_uri}/health", mlflow, 300, tmp_path / "mlflow.log")
        yield stack


def _http(method: str, url: str, key: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"content-type": "application/json"}
    if key:
        headers["X-API-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_prod_profile_end_to_end_with_compose_wiring(stack: Stack):
    env = ls.process_env(stack.app_env)

    # 1. Only addresses, database names and container paths differ from what compose gives the containers.
    original = ls.service_env(stack.compose, "api")
    assert set(stack.app_env) == set(original)
    changed = {k for k in original if stack.app_env[k] != original[k]}
    assert changed <= {
        "DATABASE_URL",
        "FEAST_REGISTRY_URL",
        "REDIS_URL",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_S3_ENDPOINT_URL",
        "FOOTBALL_PG_HOST",
        "FOOTBALL_PG_PORT",
        "FOOTBALL_PG_DBNAME",
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_DB",
        "DAGSTER_HOME",
        "FOOTBALL_STATE_DIR",
        "FOOTBALL_WAREHOUSE",
    }, sorted(changed)
    assert stack.app_env["FOOTBALL_ENV"] == "prod" and stack.app_env["FOOTBALL_DBT_TARGET"] == "prod"

    # 2. The whole graph, as `football-platform run` runs it in the dagster-code container.
    log = stack.tmp / "run.log"
    result = subprocess.run(
        ["football-platform", "run", "--seasons", SEASONS],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log.write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    assert result.returncode == 0, f"football-platform run failed:\n{result.stderr[-6000:]}"
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["files"] == 3 and summary["rejected"] == 0, summary
    assert summary["rows"] == 3 * 380 and summary["inserted"] == 3 * 380, summary

    # 3. Promoted: alias `production` in the MLflow server, artifacts in the S3 bucket only.
    alias = stack.mlflow_get(f"registered-models/alias?name={quote(MODEL_NAME)}&alias=production")
    version = alias["model_version"]
    run = stack.mlflow_get(f"runs/get?run_id={version['run_id']}")["run"]
    assert run["info"]["artifact_uri"].startswith(f"s3://{stack.bucket}/"), run["info"]["artifact_uri"]
    assert version["source"].startswith(("s3://", "models:/")), version["source"]
    keys = [
        o["Key"]
        for page in stack.s3().get_paginator("list_objects_v2").paginate(Bucket=stack.bucket)
        for o in page.get("Contents", [])
    ]
    model_files = [k for k in keys if k.endswith("/model.cb")]
    assert model_files, f"no CatBoost model file in s3://{stack.bucket}: {keys[:20]}"
    if version.get("model_id"):  # MLflow 3: the registered version points at a logged model
        assert any(version["model_id"] in k for k in model_files), (version["model_id"], model_files)
    assert not (Path(stack.app_env["FOOTBALL_STATE_DIR"]) / "mlartifacts").exists()
    # The run's own feast_apply (Dagster resources built from settings) used the same registry database.
    with psycopg.connect(_admin_dsn(stack.databases["feast_registry"])) as conn:
        projects = {row[0] for row in conn.execute("SELECT project_id FROM projects")}
    assert projects == {stack.redis_prefix}, projects
    assert not _feast_registry_tables(stack.databases["warehouse"]), "Feast registry tables in the warehouse database"
    # Feast's online store is the Redis of REDIS_URL (its keys end with the project, i.e. the prefix).
    written = _redis_keys(stack.app_env["REDIS_URL"], stack.redis_prefix)
    assert any(not key.startswith(f"{stack.redis_prefix}:".encode()) for key in written), written[:5]

    # 4. The API, as the compose `api` service starts it (one worker here: one client, two cores).
    port = free_port()
    command = ls.service_command(stack.compose, "api")
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    command[command.index("--workers") + 1] = "1"
    api_log = stack.tmp / "api.log"
    api = ls.start(command, env, api_log)
    stack.exits.callback(ls.stop, api)
    base = f"http://127.0.0.1:{port}"
    ls.wait_http(f"{base}/health", api, 180, api_log)

    status, model = _http("GET", f"{base}/models/production", stack.api_key)
    assert status == 200, model
    assert model["version"] == str(version["version"]) and model["run_id"] == version["run_id"], (model, version)
    assert model["error"] is None

    assert _http("GET", f"{base}/predictions?league={LEAGUE}")[0] == 401
    assert _http("GET", f"{base}/predictions?league={LEAGUE}", "wrong-key")[0] == 401

    status, page = _http("GET", f"{base}/predictions?league={LEAGUE}&limit=500", stack.api_key)
    assert status == 200, page
    assert page["total"] > 0 and page["items"], page
    for item in page["items"]:
        probs = (item["p_home"], item["p_draw"], item["p_away"])
        assert all(0.0 < p < 1.0 for p in probs), item
        assert sum(probs) == pytest.approx(1.0, abs=1e-6), item
        assert item["div"] == LEAGUE and item["model_version"] == str(version["version"]), item

    status, pred = _http(
        "POST", f"{base}/predict", stack.api_key, {"home_team": "Arsenal", "away_team": "Chelsea", "league": LEAGUE}
    )
    assert status == 200, pred
    probs = (pred["p_home"], pred["p_draw"], pred["p_away"])
    assert all(0.0 < p < 1.0 for p in probs) and sum(probs) == pytest.approx(1.0, abs=1e-6), pred
    assert pred["model"] == {"name": MODEL_NAME, "version": str(version["version"])}, pred

    # The API reached the stores compose points it at.
    status, detailed = _http("GET", f"{base}/health/detailed", stack.api_key)
    assert status == 200
    assert detailed["redis"]["ok"] and detailed["database"]["ok"], detailed
    assert detailed["model"]["version"] == str(version["version"]), detailed
