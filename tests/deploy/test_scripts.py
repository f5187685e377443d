"""deploy/*.sh: shellcheck, the deploy sequence (with a recording stand-in for the Docker CLI, as no
Docker engine exists here, and a real HTTP health endpoint), and log rotation done for real."""

from __future__ import annotations

import http.server
import os
import shutil
import stat
import threading

import pytest

from .conftest import REPO_ROOT, run, system_binary, tool

# The deployment scripts and the machine scripts (images, Docker engine, services).
SCRIPTS = sorted((REPO_ROOT / "deploy").rglob("*.sh")) + sorted((REPO_ROOT / "scripts").glob("*.sh"))
DEPLOY = REPO_ROOT / "deploy" / "deploy.sh"
SECRETS = (
    "POSTGRES_PASSWORD=a\nREDIS_PASSWORD=b\nMINIO_ROOT_PASSWORD=c\nGRAFANA_ADMIN_PASSWORD=d\n"
    "ALERTMANAGER_WEBHOOK_URL=http://receiver.example/alerts\n"
)


def test_shellcheck_is_clean():
    result = run([tool("shellcheck"), "--severity=style", *map(str, SCRIPTS)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def fake_docker(tmp_path):
    """A `docker` that records its arguments (the deploy sequence is what is under test)."""
    log = tmp_path / "docker.log"
    script = tmp_path / "docker"
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexit "${{FAKE_DOCKER_EXIT:-0}}"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


@pytest.fixture
def health_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            ok = self.path == "/health"
            body = b'{"status": "ok"}' if ok else b"{}"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _deploy(env_name, env_file, docker, api_url, extra_env=None):
    env = (
        os.environ
        | {"DOCKER": str(docker), "ENV_FILE": str(env_file), "API_URL": api_url, "HEALTH_TIMEOUT": "10"}
        | (extra_env or {})
    )
    return run(["bash", str(DEPLOY), env_name], env=env, timeout=60)


def test_prod_deploy_validates_pulls_starts_waits_and_checks_health(tmp_path, fake_docker, health_server):
    docker, log = fake_docker
    env_file = tmp_path / ".env"
    env_file.write_text(SECRETS + "FOOTBALL_API_KEYS=k1\n")
    result = _deploy("prod", env_file, docker, health_server)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    files = f"compose --env-file {env_file} -f docker-compose.yml -f docker-compose.prod.yml"
    assert calls == [
        f"{files} config --quiet",
        f"{files} pull --quiet",
        f"{files} up -d --remove-orphans --wait --wait-timeout 10",
    ]
    assert 'healthy: {"status": "ok"}' in result.stdout


def test_dev_deploy_builds_from_the_base_file_only(tmp_path, fake_docker, health_server):
    docker, log = fake_docker
    env_file = tmp_path / ".env"
    env_file.write_text(SECRETS)
    assert _deploy("dev", env_file, docker, health_server).returncode == 0
    calls = log.read_text().splitlines()
    assert [c.split(" -f docker-compose.yml ")[-1] for c in calls] == [
        "config --quiet",
        "build",
        "up -d --remove-orphans --wait --wait-timeout 10",
    ]
    assert all("docker-compose.prod.yml" not in c for c in calls)


def test_deploy_stops_before_docker_when_a_secret_is_empty(tmp_path, fake_docker, health_server):
    docker, log = fake_docker
    env_file = tmp_path / ".env"
    env_file.write_text(SECRETS.replace("REDIS_PASSWORD=b", "REDIS_PASSWORD="))
    result = _deploy("dev", env_file, docker, health_server)
    assert result.returncode != 0 and "REDIS_PASSWORD is empty" in result.stderr
    assert not log.exists()


def test_prod_deploy_refuses_an_open_api(tmp_path, fake_docker, health_server):
    docker, _log = fake_docker
    env_file = tmp_path / ".env"
    env_file.write_text(SECRETS + "FOOTBALL_API_KEYS=\n")
    result = _deploy("prod", env_file, docker, health_server)
    assert result.returncode != 0 and "FOOTBALL_API_KEYS" in result.stderr


def test_deploy_fails_when_a_step_fails_or_health_never_answers(tmp_path, fake_docker, health_server):
    docker, _log = fake_docker
    env_file = tmp_path / ".env"
    env_file.write_text(SECRETS)
    result = _deploy("dev", env_file, docker, health_server, {"FAKE_DOCKER_EXIT": "1"})
    assert result.returncode != 0 and "FAILED at compose config" in result.stderr
    result = _deploy("dev", env_file, docker, health_server + "/nothing-here", {"HEALTH_TIMEOUT": "4"})
    assert result.returncode != 0 and "did not answer 200" in result.stderr


def test_deploy_rejects_an_unknown_environment(tmp_path, fake_docker):
    docker, _ = fake_docker
    result = _deploy("staging", tmp_path / ".env", docker, "http://127.0.0.1:9")
    assert result.returncode == 2


def test_logrotate_config_rotates_for_real(tmp_path):
    logrotate = system_binary("logrotate", "logrotate")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "backup.log").write_text("line\n" * 100)
    config = (REPO_ROOT / "deploy/logrotate/football-platform").read_text()
    assert "/var/log/football-platform/*.log" in config
    conf = tmp_path / "football-platform.conf"
    conf.write_text(config.replace("/var/log/football-platform", str(logs)))
    result = run([logrotate, "--force", "--state", str(tmp_path / "state"), str(conf)])
    assert result.returncode == 0, result.stderr
    rotated = sorted(p.name for p in logs.iterdir())
    assert rotated[0] == "backup.log" and len(rotated) == 2 and rotated[1].startswith("backup.log-")
    assert (logs / "backup.log").stat().st_size == 0  # copytruncate: the writer's file stays open
    shutil.rmtree(logs)
