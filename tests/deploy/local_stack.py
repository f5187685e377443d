"""The compose stack's processes on this machine: their commands and environments taken from
docker-compose.yml, with only the addresses (hostnames, ports), database names and container paths
rewritten to what the test started here. Plus small process helpers (start, wait for HTTP, stop).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

import pytest

from .compose_env import interpolate_tree, load_yaml, parse_env_file
from .conftest import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
VENV_BIN = Path(sys.executable).parent
# The four secrets .env must set (compose refuses to start without them); any value works here.
DUMMY_SECRETS = {
    "POSTGRES_PASSWORD": "stack-test-postgres",
    "REDIS_PASSWORD": "stack-test-redis",
    "MINIO_ROOT_PASSWORD": "stack-test-minio",
    "GRAFANA_ADMIN_PASSWORD": "stack-test-grafana",
    "ALERTMANAGER_WEBHOOK_URL": "http://127.0.0.1:9/alerts",
    "FOOTBALL_METRICS_KEYS": "stack-test-metrics",
}
# What the processes inherit besides compose's variables: nothing of the test runner's FOOTBALL_*, MLFLOW_*,
# AWS_*, DAGSTER_* (a leak from there would make the test prove nothing about compose's wiring).
BASE_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER")


def resolved_compose(dotenv: Mapping[str, str]) -> dict:
    """docker-compose.yml interpolated the way `docker compose` would with this .env content."""
    return interpolate_tree(load_yaml(COMPOSE), dict(dotenv))


def dotenv(**overrides: str) -> dict[str, str]:
    """.env.example with the secrets filled in, plus an operator's own settings."""
    return parse_env_file(ENV_EXAMPLE) | DUMMY_SECRETS | overrides


def service_env(compose: dict, service: str) -> dict[str, str]:
    env = compose["services"][service].get("environment") or {}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def service_command(compose: dict, service: str) -> list[str]:
    return [str(part) for part in compose["services"][service]["command"]]


def _netloc(parts: SplitResult, host: str, port: int, keep_password: bool) -> str:
    auth = ""
    if parts.username or (parts.password and keep_password):
        auth = parts.username or ""
        if parts.password and keep_password:
            auth += f":{parts.password}"
        auth += "@"
    return f"{auth}{host}:{port}"


def to_this_machine(
    env: Mapping[str, str],
    hosts: Mapping[str, tuple[str, int]],
    databases: Mapping[str, str] = {},
    paths: Mapping[str, str] = {},
    redis_auth: bool = True,
) -> dict[str, str]:
    """Rewrite a service's environment for processes on this machine.

    * ``hosts``: compose service name -> (host, port) here, in URLs (``postgresql://…@postgres:5432``) and in
      ``*_HOST`` values (the matching ``*_PORT`` follows);
    * ``databases``: database name -> temporary database, in PostgreSQL URLs and ``*_DB`` / ``*_DBNAME``;
    * ``paths``: container path prefix -> directory here (``/app/.football`` …, volumes in compose);
    * ``redis_auth=False`` drops the password of ``redis://`` URLs (a test server without ``requirepass``
      refuses AUTH).
    Everything else is passed through unchanged.
    """
    out = dict(env)
    for key, value in env.items():
        parts = urlsplit(value) if "://" in value else None
        if parts is not None and parts.hostname in hosts:
            host, port = hosts[parts.hostname]
            keep_password = redis_auth or not parts.scheme.startswith("redis")
            path = parts.path
            if parts.scheme.startswith("postgres") and path.lstrip("/") in databases:
                path = "/" + databases[path.lstrip("/")]
            out[key] = urlunsplit(parts._replace(netloc=_netloc(parts, host, port, keep_password), path=path))
        elif key.endswith("_HOST") and value in hosts:
            host, port = hosts[value]
            out[key] = host
            out[key[: -len("_HOST")] + "_PORT"] = str(port)
        elif key.endswith(("_DB", "_DBNAME")) and value in databases:
            out[key] = databases[value]
        else:
            for container, local in paths.items():
                if value == container or value.startswith(container.rstrip("/") + "/"):
                    out[key] = local + value[len(container.rstrip("/")) :]
                    break
    return out


def process_env(app_env: Mapping[str, str]) -> dict[str, str]:
    """A clean environment: the basics of this shell plus exactly the given variables."""
    base = {k: os.environ[k] for k in BASE_ENV_KEYS if k in os.environ}
    base["PATH"] = f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}"
    return base | dict(app_env)


def compose_mlflow_command(command: list[str], backend_uri: str, port: int, workers: int = 1) -> list[str]:
    """The `mlflow` service's command pointed at this machine (backend database, loopback port)."""
    command = list(command)
    assert command[:2] == ["mlflow", "server"], command
    command[command.index("--backend-store-uri") + 1] = backend_uri
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    hosts = command.index("--allowed-hosts") + 1
    command[hosts] = command[hosts].replace(":5000", f":{port}")
    # One worker is enough for one client and saves a second import of MLflow on a 2-core machine.
    command[command.index("--workers") + 1] = str(workers)
    return [str(VENV_BIN / "mlflow"), *command[1:]]


def start(cmd: list[str], env: Mapping[str, str], log: Path, cwd: Path = REPO_ROOT) -> subprocess.Popen:
    """A background process in its own session (so stop() reaches its workers), output to ``log``."""
    handle = log.open("w")
    try:
        return subprocess.Popen(
            cmd, env=dict(env), cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        handle.close()


def stop(proc: subprocess.Popen | None) -> None:
    """SIGTERM to the process group, SIGKILL after 20 s; never raises."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def wait_http(url: str, proc: subprocess.Popen, deadline_s: float, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail with the process log if it exits or times out."""
    deadline = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{url}: process exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (OSError, urllib.error.HTTPError):
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer within {deadline_s}s:\n{tail(log)}")
            time.sleep(0.5)
