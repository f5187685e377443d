"""Dockerfile: hadolint clean, the stages and hardening issue 8 asks for."""

from __future__ import annotations

import re

from .conftest import REPO_ROOT, run, tool

DOCKERFILE = REPO_ROOT / "Dockerfile"


def stages() -> dict[str, str]:
    """Stage name -> its instructions."""
    text = DOCKERFILE.read_text()
    parts = re.split(r"(?m)^FROM\s+\S+\s+AS\s+(\S+)\s*$", text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_hadolint_is_clean():
    # The platform's image and the local stack's service images (deploy/local/Dockerfile).
    for path in (DOCKERFILE, REPO_ROOT / "deploy" / "local" / "Dockerfile"):
        result = run([tool("hadolint"), "--no-color", str(path)])
        assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_can_fail(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install curl\n")
    assert run([tool("hadolint"), "--no-color", str(bad)]).returncode != 0


def test_development_and_production_targets():
    found = stages()
    assert {"development", "production"} <= set(found)
    prod = found["production"]
    user = re.findall(r"(?m)^USER\s+(\S+)", prod)
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert re.search(r"(?m)^HEALTHCHECK .*?/health", prod, re.S)
    assert "FOOTBALL_ENV=prod" in prod
    # The build stage prepares the dbt manifest and the Feast registry.
    build = found["build"]
    assert "dbt parse" in build and "manifest.json" in build
    assert "feast --chdir feature_repo apply" in build
    assert "COPY --from=build" in prod
    assert "deploy/dagster/dagster.yaml" in prod


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".venv-tools", ".git", ".football"} <= ignored
    assert "!.env.example" in ignored


def test_the_image_builds_without_any_registry_but_the_base_image():
    # A `# syntax=` line makes BuildKit pull a frontend image first: impossible where no registry is reachable.
    assert not re.search(r"(?im)^#\s*syntax\s*=", DOCKERFILE.read_text())


def test_stages_prepare_what_the_definitions_need_at_load_time():
    found = stages()
    build = found["build"]
    # feature_store.yaml keeps its state in ../.football/feast, which .dockerignore keeps out of the context.
    assert build.index("mkdir -p /app/.football/feast") < build.index("feast --chdir feature_repo apply")
    dev = found["development"]
    assert "dbt parse" in dev and "manifest.json" in dev  # .dockerignore drops the host's dbt_project/target
    assert "dbt_project/target" in (REPO_ROOT / ".dockerignore").read_text().split()
    # The development image defaults to the local profile with a SQLite instance: no DAGSTER_PG_* needed.
    assert "FOOTBALL_ENV=local" in dev and "DAGSTER_HOME=/opt/dagster/local_home" in dev
    assert "cp dagster.yaml /opt/dagster/local_home/dagster.yaml" in dev
    local_instance = (REPO_ROOT / "dagster.yaml").read_text()
    assert "DAGSTER_PG" not in local_instance and "postgres" not in local_instance.split("telemetry")[0]


def test_the_image_carries_dagster_k8s_of_the_dagster_family():
    lock = (REPO_ROOT / "requirements.lock").read_text()
    dagster = re.search(r"(?m)^dagster==1\.13\.(\d+)$", lock)
    k8s = re.search(r"(?m)^dagster-k8s==0\.29\.(\d+)$", lock)
    assert dagster and k8s and dagster.group(1) == k8s.group(1), "dagster 1.13.N goes with dagster-k8s 0.29.N"
