"""GitHub Actions workflows: actionlint, the workflow JSON schema, and what each one must do."""

from __future__ import annotations

import re

import yaml

from .conftest import REPO_ROOT, run, tool

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def test_actionlint_finds_nothing():
    result = run([tool("actionlint"), "-no-color"], cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_can_fail(tmp_path):
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.nonexistent_context_key }}\n"
    )
    result = run([tool("actionlint"), "-no-color"], cwd=tmp_path, timeout=120)
    assert result.returncode != 0


def test_workflows_match_the_github_workflow_schema():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_pull_requests_lint_and_test_against_postgres_and_redis():
    ci = load("ci.yml")
    assert "pull_request" in ci["on"]
    test = ci["jobs"]["test"]
    assert set(test["services"]) == {"postgres", "redis"}
    assert test["services"]["postgres"]["image"].startswith("postgres:15")
    assert any(step.get("run") == "make test" for step in test["steps"])
    lint_runs = " ".join(step.get("run", "") for step in ci["jobs"]["lint"]["steps"])
    for command in ("ruff check", "hadolint Dockerfile", "actionlint", "cfn-lint"):
        assert command in lint_runs


def test_main_builds_pushes_and_deploys_both_variants():
    deploy = load("deploy.yml")
    trigger = deploy["on"]["workflow_run"]
    assert trigger["workflows"] == ["ci"] and trigger["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert "success" in jobs["image"]["if"]
    build = [s for s in jobs["image"]["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action")]
    assert build and build[0]["with"]["target"] == "production" and build[0]["with"]["push"] is True
    assert jobs["deploy-ecs"]["needs"] == "image" and jobs["deploy-helm"]["needs"] == "image"
    ecs = " ".join(step.get("run", "") for step in jobs["deploy-ecs"]["steps"])
    assert "aws cloudformation deploy" in ecs and "deploy/aws/platform.yaml" in ecs
    helm = " ".join(step.get("run", "") for step in jobs["deploy-helm"]["steps"])
    assert "deploy/helm/dagster-values.yaml" in helm and "deploy/helm/football-api" in helm


def test_secrets_are_named_never_stored():
    text = "".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    named = set(re.findall(r"secrets\.([A-Z_]+)", text))
    assert named == {"AWS_DEPLOY_ROLE_ARN", "AWS_CFN_EXECUTION_ROLE_ARN", "KUBE_CONFIG", "GITHUB_TOKEN"}
    # No AWS keys, no kubeconfig contents, no literal tokens.
    assert not re.search(r"AKIA[0-9A-Z]{16}|aws_secret_access_key|BEGIN [A-Z ]*PRIVATE KEY", text, re.I)
    deploy = load("deploy.yml")
    assert deploy["permissions"] == {"contents": "read"}
    assert deploy["jobs"]["image"]["permissions"]["id-token"] == "write"  # OIDC, no stored AWS keys


def test_a_helm_only_setup_assumes_no_aws_role_and_sets_the_ingress_hosts():
    jobs = load("deploy.yml")["jobs"]
    for step in jobs["image"]["steps"]:
        uses = str(step.get("uses", ""))
        if uses.startswith(("aws-actions/configure-aws-credentials", "aws-actions/amazon-ecr-login")):
            assert step.get("if") == "contains(vars.DEPLOY_TARGETS, 'ecs')", step
    build = next(s for s in jobs["image"]["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action"))
    assert build["with"]["tags"] == "${{ steps.names.outputs.tags }}"  # GHCR always, ECR only with an ECR login
    names = next(s for s in jobs["image"]["steps"] if s.get("id") == "names")["run"]
    assert 'if [ -n "$REGISTRY" ]' in names
    helm = " ".join(step.get("run", "") for step in jobs["deploy-helm"]["steps"])
    assert '--set-string "ingress.host=${API_DOMAIN}"' in helm
    assert '--set-string "ingress.dagsterWebserver.host=${DAGSTER_DOMAIN}"' in helm
    env = {k: v for step in jobs["deploy-helm"]["steps"] for k, v in step.get("env", {}).items()}
    assert env["API_DOMAIN"] == "${{ vars.API_DOMAIN }}" and env["DAGSTER_DOMAIN"] == "${{ vars.DAGSTER_DOMAIN }}"
    assert "aws" not in " ".join(str(s.get("uses", "")) for s in jobs["deploy-helm"]["steps"])
