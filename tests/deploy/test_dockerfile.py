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
    result = run([tool("hadolint"), "--no-color", str(DOCKERFILE)])
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
