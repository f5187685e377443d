"""deploy/helm: the API chart rendered by Helm's engine and validated against Kubernetes schemas;
the values for Dagster's official chart checked for the settings the platform relies on.

No helm binary or cluster here: helm-python-sdk (Helm 4's Go SDK as a library) lints and renders the
chart exactly as `helm lint --strict` / `helm template` would, and kubernetes-validate checks every
rendered object against the Kubernetes 1.30 OpenAPI schemas in strict mode (unknown fields fail).
"""

from __future__ import annotations

import json
from functools import cache

import pytest
import yaml

from .conftest import REPO_ROOT, TOOLS_BIN, run, tool

CHART = REPO_ROOT / "deploy" / "helm" / "football-api"
DAGSTER_VALUES = REPO_ROOT / "deploy" / "helm" / "dagster-values.yaml"
K8S_VERSION = "1.30.0"


@cache
def render(values_json: str = "{}") -> dict:
    result = run(
        [
            str(TOOLS_BIN / "python"),
            str(REPO_ROOT / "tests/deploy/helm_render.py"),
            str(CHART),
            "football-api",
            "football",
            values_json,
        ],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def objects(values_json: str = "{}") -> list[dict]:
    docs = []
    for path, text in render(values_json)["manifests"].items():
        if path.endswith(".yaml"):
            docs += [doc for doc in yaml.safe_load_all(text) if doc]
    return docs


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


PROD_VALUES = json.dumps(yaml.safe_load((CHART / "values-prod.yaml").read_text()) | {"image": {"tag": "abc123"}})


@pytest.mark.parametrize("values_json", ["{}", PROD_VALUES], ids=["defaults", "prod"])
def test_chart_lints_and_renders_valid_kubernetes_objects(tmp_path, values_json):
    tool("kubernetes-validate")
    rendered = render(values_json)
    assert rendered["schema_error"] is None
    assert rendered["lint"]["errors"] == [], rendered["lint"]
    docs = objects(values_json)
    builtin = {"Deployment", "Service", "HorizontalPodAutoscaler", "Ingress", "NetworkPolicy", "PodDisruptionBudget",
               "ServiceAccount"}
    # Production adds the Prometheus Operator objects and the backup CronJob (off by default: no operator needed).
    extra = {"ServiceMonitor", "PrometheusRule", "AlertmanagerConfig", "ConfigMap", "CronJob"}
    assert {doc["kind"] for doc in docs} == (builtin | extra if values_json == PROD_VALUES else builtin)
    assert {d["metadata"]["name"] for d in by_kind(docs, "Deployment")} == {"football-api", "mlflow"}
    path = tmp_path / "rendered.yaml"
    # kubernetes-validate knows the built-in kinds; the operator's CRDs are checked by the monitoring test.
    path.write_text(yaml.safe_dump_all([d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]))
    result = run([tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(path)], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validation_can_fail(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "x"},
                "spec": {"replicas": "two", "selector": {}, "template": {}},
            }
        )
    )
    result = run([tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(bad)], timeout=120)
    assert result.returncode != 0


def test_deployment_probes_service_and_hpa_fit_together():
    docs = objects()
    (deploy,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "football-api"]
    (service,) = [d for d in by_kind(docs, "Service") if d["metadata"]["name"] == "football-api"]
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    pod = deploy["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in container["ports"]
    assert container["command"][:2] == ["football-platform", "serve"]
    labels = pod["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deploy["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deploy["metadata"]["name"],
    }
    assert "replicas" not in deploy["spec"], "the HPA owns the replica count"
    # Secrets only by reference; non-root, read-only root file system.
    assert container["envFrom"] == [{"secretRef": {"name": "football-platform-env"}}]
    assert {e["name"] for e in container["env"]}.isdisjoint(
        {"DATABASE_URL", "FEAST_REGISTRY_URL", "REDIS_URL", "FOOTBALL_API_KEYS"}
    )
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_ingress_terminates_tls_with_cert_manager():
    (ingress,) = by_kind(objects(), "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    (tls,) = ingress["spec"]["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert tls["hosts"] == [rule["host"]] and tls["secretName"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"


def test_network_policies_keep_postgres_and_redis_to_the_platform():
    docs = objects()
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    pod_labels = deployments["football-api"]["spec"]["template"]["metadata"]["labels"]
    dagster = yaml.safe_load(DAGSTER_VALUES.read_text())
    policies = {p["metadata"]["name"]: p for p in by_kind(docs, "NetworkPolicy")}
    data = {
        "football-api-postgresql-clients": ({"app.kubernetes.io/name": "postgresql"}, 5432),
        "football-api-redis-clients": ({"app.kubernetes.io/name": "redis"}, 6379),
    }
    for name, (selector, port) in data.items():
        spec = policies[name]["spec"]
        assert spec["podSelector"]["matchLabels"] == selector
        assert spec["policyTypes"] == ["Ingress"]
        (rule,) = spec["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]
        allowed = [peer["podSelector"]["matchLabels"] for peer in rule["from"]]
        assert all("namespaceSelector" not in peer for peer in rule["from"]), "no other namespace gets in"
        platform = allowed[0]
        # The API, MLflow and every Dagster pod carry the platform label the policy admits.
        assert platform.items() <= pod_labels.items()
        assert platform.items() <= deployments["mlflow"]["spec"]["template"]["metadata"]["labels"].items()
        for section in (
            dagster["dagsterWebserver"],
            dagster["dagsterDaemon"],
            dagster["dagster-user-deployments"]["deployments"][0],
            dagster["runLauncher"]["config"]["k8sRunLauncher"],
        ):
            assert platform.items() <= section["labels"].items()
    api_policy = policies["football-api"]["spec"]
    assert api_policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_mlflow_runs_the_compose_command_with_an_s3_artifact_root():
    deployments = {d["metadata"]["name"]: d for d in by_kind(objects(), "Deployment")}
    (container,) = deployments["mlflow"]["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[:2] == ["mlflow", "server"]
    assert command[command.index("--default-artifact-root") + 1] == "s3://mlflow/"
    assert "--backend-store-uri" not in command  # from MLFLOW_BACKEND_STORE_URI in the Secret
    assert container["envFrom"] == [{"secretRef": {"name": "football-mlflow-env"}}]
    assert container["env"] == [{"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


@pytest.mark.parametrize("name", ["DATABASE_URL", "FEAST_REGISTRY_URL"])
def test_values_schema_rejects_secrets_in_plain_env(name):
    rendered = render(json.dumps({"env": {name: "postgresql://u:p@h/db"}}))
    assert rendered["schema_error"] and name in rendered["schema_error"]


def test_dagster_values_for_the_official_chart():
    values = yaml.safe_load(DAGSTER_VALUES.read_text())
    (code,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    assert code["dagsterApiGrpcArgs"] == ["-m", "football_platform.definitions"]
    assert code["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert {"name": "football-platform-env"} in code["envSecrets"]
    env = {item["name"]: item.get("value", item.get("valueFrom")) for item in code["env"]}
    assert env["FOOTBALL_ENV"] == "prod" and env["FOOTBALL_DBT_TARGET"] == "prod"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlDatabase"] == "dagster"
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert daemon["runRetries"]["enabled"] is True
    prod_instance = yaml.safe_load((REPO_ROOT / "deploy/dagster/dagster.yaml").read_text())
    assert (
        daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
        == prod_instance["concurrency"]["runs"]["tag_concurrency_limits"]
    )
    assert daemon["runRetries"]["maxRetries"] == prod_instance["run_retries"]["max_retries"]
    ingress = values["ingress"]
    assert ingress["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ingress["dagsterWebserver"]["tls"]["enabled"] is True


class _StrictLoader(yaml.SafeLoader):
    """A loader that refuses duplicate mapping keys (plain YAML loading keeps the last one silently)."""


def _no_duplicates(loader, node, deep=False):
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {sorted(duplicates)}", node.start_mark)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


@pytest.mark.parametrize("values_json", ["{}", PROD_VALUES], ids=["defaults", "prod"])
def test_rendered_manifests_have_no_duplicate_keys(values_json):
    for path, text in render(values_json)["manifests"].items():
        if path.endswith(".yaml"):
            list(yaml.load_all(text, Loader=_StrictLoader))  # raises on e.g. app.kubernetes.io/component twice
    labels = {d["kind"]: d["metadata"]["labels"] for d in objects() if d["metadata"]["name"] == "mlflow"}
    assert labels["Deployment"]["app.kubernetes.io/component"] == labels["Service"]["app.kubernetes.io/component"] \
        == "mlflow"


def _segment_prefix(prefix: str, path: str) -> bool:
    """Kubernetes `Prefix` matching: element-wise on /-separated segments."""
    want, have = prefix.rstrip("/").split("/"), path.rstrip("/").split("/")
    return have[: len(want)] == want


def test_ingress_routes_the_public_api_but_not_metrics_or_stats():
    import re

    (ingress,) = by_kind(objects(PROD_VALUES), "Ingress")
    (rule,) = ingress["spec"]["rules"]
    prefixes = [p["path"] for p in rule["http"]["paths"]]
    assert all(p["pathType"] == "Prefix" for p in rule["http"]["paths"])
    for internal in ("/metrics", "/stats"):
        assert not any(_segment_prefix(p, internal) for p in prefixes), (internal, prefixes)
    app = (REPO_ROOT / "serving" / "app.py").read_text()
    routes = set(re.findall(r'@app\.(?:get|post|put|delete)\("([^"]+)"', app)) | {"/docs", "/openapi.json"}
    for route in routes - {"/metrics", "/stats"}:
        assert any(_segment_prefix(p, route) for p in prefixes), f"{route} is not routed by the ingress"
    # The schema refuses a catch-all or an internal route in ingress.paths.
    for bad in ("/", "/metrics"):
        rendered = render(json.dumps({"ingress": {"paths": ["/predictions", bad]}}))
        assert rendered["schema_error"], bad


def test_monitoring_objects_scrape_by_component_and_carry_the_compose_rules_and_routes():
    docs = objects(PROD_VALUES)
    (monitor,) = by_kind(docs, "ServiceMonitor")
    (service,) = [d for d in by_kind(docs, "Service") if d["metadata"]["name"] == "football-api"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert {"targetLabel": "component", "replacement": "api"} in endpoint["relabelings"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # The PrometheusRule is deploy/prometheus/alerts.yml itself, and no rule pins a job name.
    (rule,) = by_kind(docs, "PrometheusRule")
    alerts = yaml.safe_load((REPO_ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert rule["spec"] == alerts
    assert "job=" not in json.dumps(alerts)
    # The Alertmanager routes are the compose stack's (deploy/alertmanager/alertmanager.yml).
    (config,) = by_kind(docs, "AlertmanagerConfig")
    compose_am = yaml.safe_load((REPO_ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    route, compose_route = config["spec"]["route"], compose_am["route"]
    assert route["groupBy"] == compose_route["group_by"]
    assert (route["groupWait"], route["groupInterval"], route["repeatInterval"]) == (
        compose_route["group_wait"], compose_route["group_interval"], compose_route["repeat_interval"])
    (critical,) = route["routes"]
    assert critical["matchers"] == [{"name": "severity", "value": "critical", "matchType": "="}]
    assert critical["repeatInterval"] == compose_route["routes"][0]["repeat_interval"]
    (receiver,) = config["spec"]["receivers"]
    (webhook,) = receiver["webhookConfigs"]
    assert webhook["urlSecret"] == {"name": "football-alerts", "key": "alertmanager-webhook-url"}
    assert webhook["sendResolved"] is True


def test_backup_cronjob_dumps_daily_to_s3_with_the_repositorys_scripts():
    docs = objects(PROD_VALUES)
    (cron,) = by_kind(docs, "CronJob")
    (config_map,) = by_kind(docs, "ConfigMap")
    assert cron["spec"]["schedule"] == "30 2 * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (dump,) = pod["initContainers"]
    (upload,) = pod["containers"]
    assert dump["command"][:2] == ["bash", "/scripts/backup.sh"] and dump["image"].startswith("postgres:15")
    assert upload["command"] == ["python", "/scripts/backup_to_s3.py", "/backups",
                                 "s3://football-platform-backups/postgres", "--keep-days", "30"]
    assert config_map["data"]["backup.sh"] == (REPO_ROOT / "deploy/backup.sh").read_text()
    assert config_map["data"]["backup_to_s3.py"] == (REPO_ROOT / "deploy/backup_to_s3.py").read_text()
    assert render(json.dumps({"backup": {"enabled": True, "s3Bucket": ""}}))["schema_error"]


def test_helm_values_name_no_namespace():
    for path in (CHART / "values.yaml", CHART / "values-prod.yaml", DAGSTER_VALUES):
        text = path.read_text()
        assert ".svc.cluster.local" not in text and ".football.svc" not in text, path
    values = yaml.safe_load(DAGSTER_VALUES.read_text())
    (code,) = values["dagster-user-deployments"]["deployments"]
    webhook = {item["name"]: item for item in code["env"]}["FOOTBALL_ALERT_WEBHOOK_URL"]
    assert webhook["valueFrom"]["secretKeyRef"] == {"name": "football-alerts", "key": "dagster-webhook-url"}
