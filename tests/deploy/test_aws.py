"""deploy/aws: CloudFormation linted (cfn-lint), scanned (checkov) and checked for the design."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import yaml

from .conftest import REPO_ROOT, run, tool
from .test_compose import DAGSTER_VARS, code_vars

AWS_DIR = REPO_ROOT / "deploy" / "aws"
TEMPLATES = sorted(AWS_DIR.glob("*.yaml"))
PLATFORM = AWS_DIR / "platform.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as {"Fn::X": value} mappings."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load(path):
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def resources(kind: str) -> dict[str, dict]:
    return {k: v for k, v in load(PLATFORM)["Resources"].items() if v["Type"] == kind}


def test_templates_pass_cfn_lint_without_any_finding():
    result = run([tool("cfn-lint"), "--format", "parseable", *map(str, TEMPLATES)], timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_checkov_finds_nothing_unjustified():
    result = run(
        [
            tool("checkov"),
            "-d",
            str(AWS_DIR),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
            "--compact",
        ],
        timeout=300,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    failed = reports[0]["results"]["failed_checks"]
    assert summary["parsing_errors"] == 0
    assert summary["failed"] == 0, [(c["check_id"], c["resource"]) for c in failed]
    assert summary["passed"] > 100  # it really scanned both templates
    for check in reports[0]["results"]["skipped_checks"]:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 30, f"{check['check_id']} on {check['resource']} is skipped without a reason"


def test_rds_is_multi_az_encrypted_and_keeps_backups_7_to_30_days():
    template = load(PLATFORM)
    (db,) = resources("AWS::RDS::DBInstance").values()
    props = db["Properties"]
    assert props["MultiAZ"] is True and props["StorageEncrypted"] is True
    assert props["PubliclyAccessible"] is False and props["DeletionProtection"] is True
    assert props["BackupRetentionPeriod"] == {"Ref": "DbBackupRetentionDays"}
    param = template["Parameters"]["DbBackupRetentionDays"]
    assert (param["MinValue"], param["MaxValue"]) == (7, 30) and 7 <= param["Default"] <= 30
    assert db["DeletionPolicy"] == "Snapshot"


def test_redis_replication_group_fails_over_automatically():
    (redis,) = resources("AWS::ElastiCache::ReplicationGroup").values()
    props = redis["Properties"]
    assert props["AutomaticFailoverEnabled"] is True and props["MultiAZEnabled"] is True
    assert props["NumCacheClusters"] >= 2
    assert props["TransitEncryptionEnabled"] is True and props["AtRestEncryptionEnabled"] is True
    assert "secretsmanager" in json.dumps(props["AuthToken"])


def test_load_balancer_is_https_only_in_public_subnets():
    listeners = resources("AWS::ElasticLoadBalancingV2::Listener")
    ports = [(item["Properties"]["Port"], item["Properties"]["Protocol"]) for item in listeners.values()]
    assert ports == [(443, "HTTPS")]
    (listener,) = listeners.values()
    assert listener["Properties"]["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    (alb,) = resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert alb["Properties"]["Subnets"] == [{"Ref": "PublicSubnet1"}, {"Ref": "PublicSubnet2"}]
    (alb_sg,) = [v for k, v in resources("AWS::EC2::SecurityGroup").items() if k == "AlbSecurityGroup"]
    assert [(r["FromPort"], r["ToPort"]) for r in alb_sg["Properties"]["SecurityGroupIngress"]] == [(443, 443)]


def test_only_the_app_reaches_the_database_and_redis():
    groups = resources("AWS::EC2::SecurityGroup")
    ingress_rules = resources("AWS::EC2::SecurityGroupIngress")
    for store, port in (("DatabaseSecurityGroup", 5432), ("RedisSecurityGroup", 6379)):
        assert "SecurityGroupIngress" not in groups[store]["Properties"]
        rules = [r["Properties"] for r in ingress_rules.values() if r["Properties"]["GroupId"] == {"Ref": store}]
        assert rules == [
            {**rules[0], "FromPort": port, "ToPort": port, "SourceSecurityGroupId": {"Ref": "AppSecurityGroup"}}
        ]
    # Data stores live in the data subnets, which have no route out of the VPC.
    (db_subnets,) = resources("AWS::RDS::DBSubnetGroup").values()
    (cache_subnets,) = resources("AWS::ElastiCache::SubnetGroup").values()
    data = [{"Ref": "DataSubnet1"}, {"Ref": "DataSubnet2"}]
    assert db_subnets["Properties"]["SubnetIds"] == data == cache_subnets["Properties"]["SubnetIds"]
    routes = resources("AWS::EC2::Route")
    assert all(r["Properties"]["RouteTableId"] != {"Ref": "DataRouteTable"} for r in routes.values())


def test_ecs_services_run_privately_for_every_platform_process():
    services = resources("AWS::ECS::Service")
    names = {s["Properties"]["ServiceName"] for s in services.values()}
    assert names == {"api", "dagster-code", "dagster-webserver", "dagster-daemon", "mlflow"}
    for service in services.values():
        net = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert net["AssignPublicIp"] == "DISABLED"
        assert net["Subnets"] == [{"Ref": "AppSubnet1"}, {"Ref": "AppSubnet2"}]
        assert service["Properties"]["LaunchType"] == "FARGATE"
    (daemon,) = [s for s in services.values() if s["Properties"]["ServiceName"] == "dagster-daemon"]
    assert daemon["Properties"]["DesiredCount"] == 1
    assert daemon["Properties"]["DeploymentConfiguration"]["MaximumPercent"] == 100


def test_task_environment_uses_only_known_variables_and_secrets_come_from_secrets_manager():
    allowed = code_vars() | DAGSTER_VARS
    secret_like = re.compile(r"PASSWORD|SECRET|API_KEYS|DATABASE_URL|FEAST_REGISTRY_URL|REDIS_URL|WEBHOOK")
    for name, task in resources("AWS::ECS::TaskDefinition").items():
        for container in task["Properties"]["ContainerDefinitions"]:
            env = {e["Name"] for e in container.get("Environment", [])}
            secrets = set()
            for item in container.get("Secrets", []):
                if "Fn::If" in item:
                    item = item["Fn::If"][1]
                secrets.add(item["Name"])
                assert "Fn::Sub" in item["ValueFrom"] or "Ref" in item["ValueFrom"]
            assert not {n for n in env if secret_like.search(n)}, f"{name}: secret passed as plain env"
            if container["Name"] == "mlflow":
                assert secrets == {"MLFLOW_BACKEND_STORE_URI"}
                # MLflow 3's job runner and huey consumers would double the task's memory (docker-compose.yml).
                assert container["Environment"] == [{"Name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "Value": "false"}]
                continue
            unknown = (env | secrets) - allowed
            assert not unknown, f"{name}: variables nothing reads: {sorted(unknown)}"
            assert {"DATABASE_URL", "FEAST_REGISTRY_URL", "REDIS_URL", "FOOTBALL_API_KEYS"} <= secrets
            assert "FOOTBALL_DBT_TARGET" in env and "DAGSTER_GRPC_HOST" in env
    # Feast's SQL registry has its own database (made by the init task), not the warehouse's.
    connection = load(PLATFORM)["Resources"]["AppConnectionSecret"]["Properties"]["SecretString"]["Fn::Sub"][0]
    urls = json.loads(re.sub(r"\$\{\w+\}", "x", connection))
    assert urlsplit(urls["DATABASE_URL"]).path == "/warehouse"
    assert urlsplit(urls["FEAST_REGISTRY_URL"]).path == "/feast_registry"
    text = PLATFORM.read_text()
    assert 'MasterUserPassword: !Sub "{{resolve:secretsmanager:' in text
    assert not re.search(r"(?i)password:\s*['\"]?[A-Za-z0-9]{8,}['\"]?\s*$", text, re.M)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_parameters_hold_no_secret_defaults(path):
    for name, param in load(path).get("Parameters", {}).items():
        if re.search(r"(?i)password|secret|token|webhook", name):
            assert param.get("NoEcho") is True and param.get("Default", "") == ""


def test_the_alb_does_not_route_metrics_or_stats_to_the_api():
    rules = resources("AWS::ElasticLoadBalancingV2::ListenerRule")
    ordered = sorted(rules.values(), key=lambda rule: rule["Properties"]["Priority"])
    blocked = None
    for rule in ordered:
        props = rule["Properties"]
        paths = [c["PathPatternConfig"]["Values"] for c in props["Conditions"] if c["Field"] == "path-pattern"]
        hosts = [c["HostHeaderConfig"]["Values"] for c in props["Conditions"] if c["Field"] == "host-header"]
        if paths and hosts == [[{"Ref": "ApiDomainName"}]]:
            blocked = set(paths[0])
            assert props["Actions"][0]["Type"] == "fixed-response"
            assert props["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
        if props["Actions"][0].get("TargetGroupArn") == {"Ref": "ApiTargetGroup"}:
            # The forward rule comes after the block (ALB evaluates the lowest priority number first).
            assert blocked is not None and {"/metrics", "/metrics/*", "/stats", "/stats/*"} <= blocked
            return
    pytest.fail("no rule forwards to ApiTargetGroup")


def test_cloudwatch_alarms_on_alb_ecs_rds_and_elasticache_notify_the_sns_topic():
    alarms = resources("AWS::CloudWatch::Alarm")
    (topic_name,) = resources("AWS::SNS::Topic")
    namespaces = set()
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic_name}], name
        assert props["OKActions"] == [{"Ref": topic_name}], name
        if "Namespace" in props:
            namespaces.add(props["Namespace"])
        for metric in props.get("Metrics", []):
            if "MetricStat" in metric:
                namespaces.add(metric["MetricStat"]["Metric"]["Namespace"])
    assert {"AWS/ApplicationELB", "AWS/ECS", "AWS/RDS", "AWS/ElastiCache"} <= namespaces
    names = {alarm["Properties"]["AlarmName"]["Fn::Sub"].split("-", 1)[1] for alarm in alarms.values()}
    assert {"HighErrorRate", "APIDown", "DatabaseDown", "RedisDown"} <= names
    # The topic is encrypted with the platform key, which lets CloudWatch publish to it.
    topic = resources("AWS::SNS::Topic")[topic_name]
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "PlatformKey"}
    (key,) = resources("AWS::KMS::Key").values()
    principals = [s["Principal"] for s in key["Properties"]["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    assert "AlertTopicArn" in load(PLATFORM)["Outputs"]
