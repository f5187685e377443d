"""The layers hold: import-linter's contracts (pyproject.toml) pass, they catch a break, and no import cycle exists.

import-linter and grimp live in .venv-tools (requirements-tools.lock); a missing tool is a failure, never a skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".venv-tools" / "bin"
PACKAGES = ("football_platform", "serving")

# Strongly connected components of the module import graph (every import, function-local ones included), with
# grimp: a component of more than one module is an import cycle.
CYCLES_SCRIPT = """
import json, sys
import grimp
graph = grimp.build_graph(*sys.argv[1:], cache_dir=None)
edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules) for m in sorted(graph.modules)}
index, low, stack, on_stack, cycles = {}, {}, [], set(), []
def visit(root):
    work = [(root, iter(edges[root]))]
    index[root] = low[root] = len(index); stack.append(root); on_stack.add(root)
    while work:
        node, children = work[-1]
        child = next(children, None)
        if child is None:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop(); on_stack.discard(member); component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
        elif child not in index:
            index[child] = low[child] = len(index); stack.append(child); on_stack.add(child)
            work.append((child, iter(edges[child])))
        elif child in on_stack:
            low[node] = min(low[node], index[child])
for module in edges:
    if module not in index:
        visit(module)
print(json.dumps({"modules": len(edges), "cycles": cycles}))
"""


def tool(name: str) -> Path:
    path = TOOLS_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: `make install` builds .venv-tools from requirements-tools.lock")
    return path


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(tool("lint-imports")), "--no-cache"], cwd=root, capture_output=True, text=True,
                          timeout=300)


def import_cycles(root: Path) -> dict:
    result = subprocess.run([str(tool("python")), "-c", CYCLES_SCRIPT, *PACKAGES], cwd=root, capture_output=True,
                            text=True, timeout=300, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def copy_packages(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_import_contracts_hold():
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_contracts_catch_a_domain_importing_another(tmp_path):
    root = copy_packages(tmp_path)
    assets = root / "football_platform" / "defs" / "serving" / "assets.py"
    assets.write_text(assets.read_text() + "\nfrom football_platform.defs.features import assets as _features  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "Dagster domains are independent" in result.stdout and "BROKEN" in result.stdout


def test_import_contracts_catch_dagster_in_lib(tmp_path):
    root = copy_packages(tmp_path)
    teams = root / "football_platform" / "lib" / "teams.py"
    teams.write_text(teams.read_text() + "\n\ndef _late():\n    import dagster  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "lib is plain Python" in result.stdout and "BROKEN" in result.stdout


def test_no_import_cycle():
    found = import_cycles(REPO_ROOT)
    assert found["modules"] > 60  # both packages were read
    assert found["cycles"] == [], f"import cycles: {found['cycles']}"


def test_a_new_cycle_is_found(tmp_path):
    root = copy_packages(tmp_path)
    settings = root / "football_platform" / "settings.py"
    settings.write_text(settings.read_text() + "\n\ndef _late():\n    from football_platform import resources  # noqa\n")
    cycles = import_cycles(root)["cycles"]
    assert any({"football_platform.settings", "football_platform.resources"} <= set(c) for c in cycles), cycles
