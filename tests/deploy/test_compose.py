"""docker-compose.yml / docker-compose.prod.yml / .env.example against the code and the spec."""

from __future__ import annotations

import re

import pytest

from .compose_env import (
    InterpolationError,
    interpolate_tree,
    load_yaml,
    parse_env_file,
    referenced_variables,
)
from .conftest import REPO_ROOT, run, tool

COMPOSE = REPO_ROOT / "docker-compose.yml"
COMPOSE_PROD = REPO_ROOT / "docker-compose.prod.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SETTINGS = REPO_ROOT / "football_platform" / "settings.py"
DBT_PROFILES = REPO_ROOT / "dbt_project" / "profiles.yml"

# Read by libraries rather than by settings.py: MLflow's S3 artifact client (boto3).
LIBRARY_VARS = {"MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# dbt_project/profiles.yml (parsed too: a variable added there must reach compose and .env.example).
DBT_VARS = {
    "FOOTBALL_PG_HOST",
    "FOOTBALL_PG_PORT",
    "FOOTBALL_PG_USER",
    "FOOTBALL_PG_PASSWORD",
    "FOOTBALL_PG_DBNAME",
    "FOOTBALL_PG_SSLMODE",
    "FOOTBALL_DBT_TARGET",
    "FOOTBALL_DBT_THREADS",
}
# Read by deploy/dagster/dagster.yaml and workspace.yaml (Dagster's own `env:` config sources).
DAGSTER_VARS = {
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
    "DAGSTER_GRPC_HOST",
}
# Only the stack itself (containers of third-party images, the image to run) uses these.
STACK_VARS = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "GRAFANA_ADMIN_USER",
    "GRAFANA_ADMIN_PASSWORD",
    "FOOTBALL_IMAGE",
    "FOOTBALL_BUILD_TARGET",
    "FOOTBALL_DATA_DIR",
    # Alert delivery, the TLS proxy and the backup service (issue 14).
    "ALERTMANAGER_WEBHOOK_URL",
    "FOOTBALL_DOMAIN",
    "FOOTBALL_TLS",
    "FOOTBALL_HTTP_PORT",
    "FOOTBALL_HTTPS_PORT",
    "BACKUP_AT",
    "BACKUP_KEEP_DAYS",
    "BACKUP_HOST_DIR",
    "BACKUP_ON_START",
}
# Secrets: empty in .env.example, and compose refuses to start without them.
# (ALERTMANAGER_WEBHOOK_URL: where alerts go; webhook URLs carry tokens, and a stack without a receiver is refused.)
REQUIRED_SECRETS = {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
                    "ALERTMANAGER_WEBHOOK_URL", "FOOTBALL_METRICS_KEYS"}
APP_SERVICES = {"dagster-code", "dagster-webserver", "dagster-daemon", "api", "feast-apply"}


def settings_vars() -> set[str]:
    """Variables football_platform/settings.py reads (it is the only reader of the environment)."""
    names = set(re.findall(r"""env\.get\(\s*["']([A-Z][A-Z0-9_]*)["']""", SETTINGS.read_text()))
    assert names, f"no env.get('...') calls found in {SETTINGS}: did the reader change shape?"
    return names


def dbt_vars() -> set[str]:
    if not DBT_PROFILES.exists():
        return set(DBT_VARS)
    found = set(re.findall(r"""env_var\(\s*['"]([A-Z][A-Z0-9_]*)['"]""", DBT_PROFILES.read_text()))
    return found | set(DBT_VARS)


def code_vars() -> set[str]:
    return settings_vars() | dbt_vars() | LIBRARY_VARS


def test_settings_reads_the_documented_variables():
    # The brief's list; a new variable in settings.py must be added to compose and .env.example.
    assert settings_vars() >= {
        "FOOTBALL_ENV",
        "FOOTBALL_DATA_SOURCE",
        "FOOTBALL_LEAGUES",
        "FOOTBALL_STATE_DIR",
        "FOOTBALL_WAREHOUSE",
        "DATABASE_URL",
        "FEAST_REGISTRY_URL",
        "REDIS_URL",
        "FOOTBALL_REDIS_PREFIX",
        "MLFLOW_TRACKING_URI",
        "DAGSTER_HOME",
        "FOOTBALL_AS_OF",
        "FOOTBALL_API_KEYS",
        "FOOTBALL_ADMIN_KEYS",
        "FOOTBALL_METRICS_KEYS",
        "FOOTBALL_ALERT_WEBHOOK_URL",
    }


def test_dbt_profile_reads_only_documented_variables():
    assert DBT_PROFILES.exists(), "dbt_project/profiles.yml is missing"
    found = set(re.findall(r"""env_var\(\s*['"]([A-Z][A-Z0-9_]*)['"]""", DBT_PROFILES.read_text()))
    unknown = found - DBT_VARS - settings_vars()
    assert not unknown, f"profiles.yml reads {sorted(unknown)}: add them to compose, .env.example and DBT_VARS"


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_PROD], ids=lambda p: p.name)
def test_compose_file_matches_the_compose_specification(path):
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_validation_catches_a_broken_file(tmp_path):
    # The validator must be able to fail: a service with an unknown key is rejected.
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  api:\n    image: x\n    restart_policy: always\n")
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad)])
    assert result.returncode != 0


def test_env_example_lists_exactly_the_variables_in_use():
    keys = set(parse_env_file(ENV_EXAMPLE))
    expected = code_vars() | DAGSTER_VARS | STACK_VARS
    assert keys - expected == set(), f".env.example sets variables nothing reads: {sorted(keys - expected)}"
    assert expected - keys == set(), f".env.example misses: {sorted(expected - keys)}"


def test_compose_interpolates_exactly_the_env_example_variables():
    used = referenced_variables(COMPOSE.read_text()) | referenced_variables(COMPOSE_PROD.read_text())
    keys = set(parse_env_file(ENV_EXAMPLE))
    assert used - keys == set(), f"compose uses variables .env.example does not list: {sorted(used - keys)}"
    assert keys - used == set(), f".env.example lists variables compose never uses: {sorted(keys - used)}"


def test_platform_containers_get_every_variable_the_code_reads_and_nothing_else():
    compose = load_yaml(COMPOSE)
    expected = code_vars() | DAGSTER_VARS
    for name in APP_SERVICES:
        env = set(compose["services"][name]["environment"])
        assert env == expected, f"service {name}: missing {sorted(expected - env)}, unexpected {sorted(env - expected)}"


def test_nothing_secret_is_committed():
    values = parse_env_file(ENV_EXAMPLE)
    for name in REQUIRED_SECRETS | {
        "FOOTBALL_API_KEYS",
        "FOOTBALL_ADMIN_KEYS",
        "FOOTBALL_METRICS_KEYS",
        "AWS_SECRET_ACCESS_KEY",
        "FOOTBALL_PG_PASSWORD",
        "DAGSTER_PG_PASSWORD",
        "DATABASE_URL",
        "FEAST_REGISTRY_URL",
        "REDIS_URL",
    }:
        assert values[name] == "", f".env.example must leave {name} empty"
    for path in (COMPOSE, COMPOSE_PROD):
        text = path.read_text()
        # A password may only appear as an interpolated variable, never as a literal value.
        for match in re.finditer(r"(?im)^\s*([A-Z_]*(?:PASSWORD|SECRET)[A-Z_]*):\s*(\S.*)$", text):
            assert match.group(2).startswith("${"), f"{path.name}: {match.group(1)} has a literal value"


def _resolved(env: dict[str, str]) -> dict:
    return interpolate_tree(load_yaml(COMPOSE), env)


def test_compose_refuses_to_start_without_the_secrets():
    env = parse_env_file(ENV_EXAMPLE)
    with pytest.raises(InterpolationError, match="PASSWORD|METRICS_KEYS"):
        _resolved(env)


def test_secrets_flow_into_the_derived_connection_settings():
    env = parse_env_file(ENV_EXAMPLE) | {name: f"s3cret-{name.lower()}" for name in REQUIRED_SECRETS}
    services = _resolved(env)["services"]
    api_env = services["api"]["environment"]
    assert api_env["DATABASE_URL"] == "postgresql://football:s3cret-postgres_password@postgres:5432/warehouse"
    # Feast's SQL registry has its own database, not the warehouse's.
    assert api_env["FEAST_REGISTRY_URL"] == "postgresql://football:s3cret-postgres_password@postgres:5432/feast_registry"
    assert api_env["REDIS_URL"] == "redis://:s3cret-redis_password@redis:6379/0"
    assert api_env["FOOTBALL_PG_PASSWORD"] == "s3cret-postgres_password"
    assert api_env["DAGSTER_PG_PASSWORD"] == "s3cret-postgres_password"
    assert api_env["AWS_SECRET_ACCESS_KEY"] == "s3cret-minio_root_password"
    assert api_env["FOOTBALL_ENV"] == "prod"
    # dbt's profile defaults to its DuckDB target: containers must select the PostgreSQL one.
    assert api_env["FOOTBALL_DBT_TARGET"] == "prod"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "s3cret-postgres_password"
    # An explicit value in .env wins over the derived default.
    env["DATABASE_URL"] = "postgresql://other@db:5432/warehouse"
    env["FEAST_REGISTRY_URL"] = "postgresql://other@db:5432/feast_registry"
    overridden = _resolved(env)["services"]["api"]["environment"]
    assert overridden["DATABASE_URL"] == env["DATABASE_URL"]
    assert overridden["FEAST_REGISTRY_URL"] == env["FEAST_REGISTRY_URL"]


def test_services_and_ports():
    services = load_yaml(COMPOSE)["services"]
    expected = {
        "postgres",
        "redis",
        "minio",
        "minio-init",
        "mlflow",
        "feast-apply",
        "dagster-code",
        "dagster-webserver",
        "dagster-daemon",
        "api",
        "prometheus",
        "postgres-exporter",
        "redis-exporter",
        "grafana",
        "proxy",
        "alertmanager",
        "backup",
    }
    assert set(services) == expected
    published = {name: [p.split(":")[-1] for p in svc.get("ports", [])] for name, svc in services.items()}
    assert published["api"] == ["8000"]
    assert published["dagster-webserver"] == ["3000"]
    assert published["mlflow"] == ["5000"]
    assert published["grafana"] == ["3000"] and services["grafana"]["ports"][0].startswith("127.0.0.1:3001:")
    assert published["prometheus"] == ["9090"]
    assert published["alertmanager"] == ["9093"]
    # The TLS proxy is the one way in from outside (80 only redirects to 443).
    assert services["proxy"]["ports"] == ["${FOOTBALL_HTTP_PORT:-80}:80", "${FOOTBALL_HTTPS_PORT:-443}:443"]
    # Every other host port binds to loopback only; PostgreSQL and Redis are not published at all.
    for name, svc in services.items():
        for port in svc.get("ports", []) if name != "proxy" else []:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert "ports" not in services["postgres"] and "ports" not in services["redis"]


def test_dagster_processes_use_the_grpc_code_location():
    services = load_yaml(COMPOSE)["services"]
    assert services["dagster-code"]["command"] == [
        "dagster",
        "api",
        "grpc",
        "-m",
        "football_platform.definitions",
        "-h",
        "0.0.0.0",
        "-p",
        "4000",
    ]
    for name in ("dagster-webserver", "dagster-daemon"):
        command = services[name]["command"]
        assert command[command.index("-w") + 1] == "/opt/dagster/dagster_home/workspace.yaml"
        assert services[name]["depends_on"]["dagster-code"]["condition"] == "service_healthy"
    api = services["api"]["command"]
    assert api[:2] == ["football-platform", "serve"] and api[api.index("--port") + 1] == "8000"


def test_postgres_init_script_creates_the_compose_databases():
    services = load_yaml(COMPOSE)["services"]
    mounts = services["postgres"]["volumes"]
    assert "./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-init-databases.sh:ro" in mounts
    script = (REPO_ROOT / "deploy/postgres/init-databases.sh").read_text()
    default_list = re.search(r"FOOTBALL_INIT_DATABASES:-([a-z_ ]+)\}", script).group(1).split()
    assert default_list == ["warehouse", "dagster", "mlflow", "feast_registry"]
    env = parse_env_file(ENV_EXAMPLE) | {name: "x" for name in REQUIRED_SECRETS}
    resolved = _resolved(env)["services"]
    assert resolved["api"]["environment"]["DATABASE_URL"].endswith("/warehouse")
    assert resolved["api"]["environment"]["FEAST_REGISTRY_URL"].endswith("@postgres:5432/feast_registry")
    assert resolved["api"]["environment"]["DAGSTER_PG_DB"] == "dagster"
    mlflow_cmd = resolved["mlflow"]["command"]
    assert mlflow_cmd[mlflow_cmd.index("--backend-store-uri") + 1].endswith("@postgres:5432/mlflow")


def test_mlflow_server_runs_without_the_job_runner():
    # MLflow 3 starts a job runner and seven huey consumers by default (~1.3 GB with two workers instead of
    # ~0.6 GB): more than the 768m docker-compose.prod.yml gives the service. The platform runs no MLflow jobs.
    services = load_yaml(COMPOSE)["services"]
    assert services["mlflow"]["environment"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_prod_override_only_touches_services_of_the_base_file():
    base = load_yaml(COMPOSE)["services"]
    prod = load_yaml(COMPOSE_PROD)["services"]
    assert set(prod) <= set(base)
    for name, svc in prod.items():
        assert svc.get("restart") == "always", f"{name}: production services restart always"
        assert "limits" in svc["deploy"]["resources"], f"{name}: no resource limits"
    # The guide's production host: 16 GB. Limits are caps, but their sum should fit the host.
    total = 0.0
    for svc in prod.values():
        memory = svc["deploy"]["resources"]["limits"]["memory"]
        number, unit = re.fullmatch(r"(\d+)([mg])", memory).groups()
        total += int(number) / (1024 if unit == "m" else 1)
    assert total <= 15.0, f"memory limits add up to {total:.1f} GB on a 16 GB host"
    api_cmd = prod["api"]["command"]
    assert api_cmd[api_cmd.index("--workers") + 1] == "4"


def test_postgres_is_healthy_only_once_its_init_scripts_have_run():
    # The image runs /docker-entrypoint-initdb.d on a server that listens on the Unix socket only; a socket
    # pg_isready calls that ready and dependants (feast-apply) start before the databases exist.
    test = load_yaml(COMPOSE)["services"]["postgres"]["healthcheck"]["test"]
    assert "-h 127.0.0.1" in test[1]
