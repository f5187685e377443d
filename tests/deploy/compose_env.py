"""Compose-file helpers: the variables a file interpolates and a resolver for ``${...}`` forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class InterpolationError(ValueError):
    """A required variable (``${X:?msg}`` / ``${X?msg}``) is unset or empty."""


def load_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def referenced_variables(text: str) -> set[str]:
    """Names used as ``${NAME...}`` or ``$NAME`` anywhere in a compose file (``$$`` is a literal $)."""
    text = text.replace("$$", "")
    return set(re.findall(r"\$\{(" + _NAME + r")", text)) | set(re.findall(r"\$(" + _NAME + r")", text))


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Resolve the Compose specification's interpolation forms, nested defaults included."""
    out: list[str] = []
    i = 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if j >= len(value):
                    raise ValueError(f"unbalanced ${{ in {value!r}")
                if value.startswith("${", j):
                    depth += 1
                    j += 2
                    continue
                if value[j] == "}":
                    depth -= 1
                j += 1
            out.append(_resolve(value[i + 2 : j - 1], env))
            i = j
        elif value[i] == "$" and re.match(_NAME, value[i + 1 :]):
            name = re.match(_NAME, value[i + 1 :]).group(0)
            out.append(env.get(name, ""))
            i += 1 + len(name)
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _resolve(body: str, env: Mapping[str, str]) -> str:
    match = re.match(r"(" + _NAME + r")(?:(:?[-?])(.*))?$", body, re.S)
    if not match:
        raise ValueError(f"cannot parse ${{{body}}}")
    name, op, arg = match.group(1), match.group(2), match.group(3) or ""
    value = env.get(name)
    unset_or_empty = value is None or value == ""
    if op is None:
        return value or ""
    missing = unset_or_empty if op.startswith(":") else value is None
    if op.endswith("-"):
        return interpolate(arg, env) if missing else value
    if missing:
        raise InterpolationError(f"{name}: {interpolate(arg, env)}")
    return value


def interpolate_tree(node, env: Mapping[str, str]):
    """Interpolate every string of a loaded compose document."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(item, env) for key, item in node.items()}
    return node


def parse_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped)."""
    result: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" not in stripped:
            raise ValueError(f"{path}:{number}: not KEY=VALUE: {line!r}")
        key, value = stripped.split("=", 1)
        if key in result:
            raise ValueError(f"{path}:{number}: {key} is set twice")
        result[key] = value
    return result
