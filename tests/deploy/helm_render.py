"""Render a Helm chart with Helm's own Go engine (helm-python-sdk) and print JSON.

Runs under .venv-tools (tests/deploy/test_helm.py calls it), not under pytest:
    .venv-tools/bin/python tests/deploy/helm_render.py CHART RELEASE NAMESPACE [VALUES_JSON]
Output: {"lint": {...}, "manifests": {"template path": "yaml text"}, "schema_error": str | null}
"""

from __future__ import annotations

import json
import sys

import helm_python as helm


def main() -> None:
    chart_dir, release, namespace = sys.argv[1:4]
    values = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    lint = helm.lint(chart_dir, values=values)
    with helm.Chart.load(chart_dir) as chart:
        try:
            chart.validate_schema(values)
            schema_error = None
        except helm.HelmError as exc:
            schema_error = str(exc)
        manifests = {} if schema_error else chart.render(values, name=release, namespace=namespace)
    print(json.dumps({"lint": lint, "manifests": manifests, "schema_error": schema_error}))


if __name__ == "__main__":
    main()
