"""The deployment docs exist, say what issue 8/9 ask them to say, and name real files."""

from __future__ import annotations

import re

import pytest

from .conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def test_deployment_doc_says_dagster_replaced_celery():
    text = (DOCS / "deployment.md").read_text()
    assert re.search(r"Dagster replaces both", text) and "Celery" in text


@pytest.mark.parametrize("name", ["deploy-aws.md", "deploy-kubernetes.md"])
def test_guides_show_costs_and_end_with_a_served_prediction(name):
    text = (DOCS / name).read_text()
    assert "What it costs" in text and "$" in text
    assert "```bash" in text
    assert "/health" in text and "X-API-Key" in text


@pytest.mark.parametrize("name", ["deployment.md", "deploy-aws.md", "deploy-kubernetes.md", "runbook.md"])
def test_repository_paths_named_in_the_docs_exist(name):
    text = (DOCS / name).read_text()
    paths = set(re.findall(r"`((?:deploy|docs|tests|\.github)/[\w./-]+?)`", text))
    assert paths, f"{name} names no repository files"
    missing = [p for p in paths if "*" not in p and not (REPO_ROOT / p).exists()]
    assert not missing, f"{name} names files that do not exist: {missing}"
