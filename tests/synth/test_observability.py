"""The observability stack: Prometheus's rendered configuration, the server, Grafana, alarms."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from syrupy.assertion import SnapshotAssertion

from aws_model.ledger import Entry, check_ledger
from layers.observability.audit_trail import AUDIT_METRICS
from layers.observability.dashboard_builder import DATASOURCE_UID
from layers.observability.grafana_dashboards import dashboards
from layers.shared import rendered_config
from layers.shared.rendered_config import (
    PROMETHEUS_CONFIG,
    PROMETHEUS_RULES,
    render_grafana_provisioning,
    render_prometheus_config,
    render_prometheus_files,
)
from platform_spec import PrometheusSpec, SpecError
from platform_spec.names import COMPUTE, DATA, OBSERVABILITY
from platform_spec.prometheus import CLOUD_MAP_TTL_SECONDS
from tests.platform_synth import Synthesized, synth_spec
from tests.templates import deployment_of, image_of, ledger_of, pulled_image

Resources = dict[str, dict[str, Any]]


def _resources(synth: Synthesized, layer: str, kind: str) -> Resources:
    return {k: v for k, v in synth.template_json(layer)["Resources"].items() if v["Type"] == kind}


def _config_objects(synth: Synthesized) -> dict[str, Any]:
    """S3 key -> content of every rendered file the stack writes."""
    objects = _resources(synth, OBSERVABILITY, "Custom::ConfigObject").values()
    return {o["Properties"]["Key"]: o["Properties"]["Content"] for o in objects}


def _prometheus_task(synth: Synthesized) -> dict[str, Any]:
    for task in _resources(synth, OBSERVABILITY, "AWS::ECS::TaskDefinition").values():
        names = [c["Name"] for c in task["Properties"]["ContainerDefinitions"]]
        if synth.spec.prometheus.name in names:
            properties: dict[str, Any] = task["Properties"]
            return properties
    raise AssertionError("no Prometheus task definition")


def _container(task: dict[str, Any], name: str) -> dict[str, Any]:
    (container,) = [c for c in task["ContainerDefinitions"] if c["Name"] == name]
    found: dict[str, Any] = container
    return found


def test_rendered_configuration_matches_snapshot(shipped: Synthesized, snapshot: SnapshotAssertion) -> None:
    assert render_prometheus_config(shipped.spec) == snapshot


def test_promtool_accepts_the_rendered_configuration(profile: Synthesized, tmp_path: Path) -> None:
    """The configuration and the rules it loads, as Prometheus reads them from its directory."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package")
    for name, content in render_prometheus_files(profile.spec).items():
        (tmp_path / name).write_text(content)
    config = tmp_path / PROMETHEUS_CONFIG
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {PROMETHEUS_RULES} is valid" in result.stdout + result.stderr or "rules found" in result.stdout


def _registered(profile: Synthesized) -> set[str]:
    """Every Cloud Map name the stacks register, as tasks resolve it."""
    return {
        f"{r['Properties']['Name']}.{profile.spec.namespace}"
        for layer in (COMPUTE, OBSERVABILITY)
        for r in _resources(profile, layer, "AWS::ServiceDiscovery::Service").values()
    }


def test_one_srv_job_per_service_and_one_service_per_job(profile: Synthesized) -> None:
    spec = profile.spec
    config = yaml.safe_load(render_prometheus_config(spec))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # Every service that serves metrics on a port, and Alertmanager; a worker without them is not scraped.
    assert set(jobs) == {spec.prometheus.name, spec.alertmanager.name, *(s.name for s in spec.scraped_services)}
    assert {s.name for s in spec.scraped_services} == {
        s.name for s in spec.services if s.container_port is not None and s.metrics_path is not None
    }
    registered = _registered(profile)
    for service in spec.scraped_services:
        job = jobs[service.name]
        assert job["metrics_path"] == service.metrics_path
        (discovery,) = job["dns_sd_configs"]
        assert discovery["type"] == "SRV"
        assert discovery["names"] == [spec.dns_name(service)]
        assert discovery["names"][0] in registered
    assert config["global"]["external_labels"] == {"project": spec.project, "environment": spec.environment}


def test_prometheus_finds_alertmanager_and_loads_its_rules(profile: Synthesized) -> None:
    spec = profile.spec
    config = yaml.safe_load(render_prometheus_config(spec))
    alertmanager = f"{spec.alertmanager.name}.{spec.namespace}"
    assert alertmanager in _registered(profile)
    ((discovery,),) = [m["dns_sd_configs"] for m in config["alerting"]["alertmanagers"]]
    assert (discovery["names"], discovery["type"]) == ([alertmanager], "SRV")
    (scraped,) = [j["dns_sd_configs"] for j in config["scrape_configs"] if j["job_name"] == spec.alertmanager.name]
    assert scraped == [discovery]
    assert config["rule_files"] == [PROMETHEUS_RULES]
    assert set(render_prometheus_files(spec)) == {PROMETHEUS_CONFIG, PROMETHEUS_RULES}


def _prometheus_objects(profile: Synthesized) -> dict[str, Any]:
    """Prometheus's stored files by key: one prefix, a content hash in it, a file name under it."""
    objects = {k: v for k, v in _config_objects(profile).items() if k.startswith("prometheus/")}
    assert len({k.rsplit("/", 1)[0] for k in objects}) == 1, objects.keys()
    return objects


def test_the_stored_objects_are_the_rendered_configuration_and_rules(profile: Synthesized) -> None:
    objects = _prometheus_objects(profile)
    rendered = render_prometheus_files(profile.spec)
    assert {key.rsplit("/", 1)[1]: content for key, content in objects.items()} == rendered
    prefix = next(iter(objects)).rsplit("/", 1)[0] + "/"
    loader = _container(_prometheus_task(profile), "config-loader")
    assert loader["Essential"] is False
    assert loader["Command"][:3] == ["s3", "cp", "--recursive"]
    assert loader["Command"][3]["Fn::Join"][1][-1] == f"/{prefix}"


def test_a_template_change_rolls_out_a_new_task_definition(
    dev: Synthesized, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = tmp_path / "assets"
    shutil.copytree(rendered_config.ASSETS, templates)
    template = templates / "prometheus" / "prometheus.yml.j2"
    template.write_text(template.read_text().replace("scrape_configs:", "scrape_configs:\n  # changed"))
    monkeypatch.setattr(rendered_config._TEMPLATES, "loader", jinja2.FileSystemLoader(str(templates)))
    changed = synth_spec(tmp_path / "out", dev.spec)
    before = _container(_prometheus_task(dev), "config-loader")["Command"]
    after = _container(_prometheus_task(changed), "config-loader")["Command"]
    assert before != after


def test_an_objective_change_rolls_out_a_new_task_definition(dev: Synthesized, tmp_path: Path) -> None:
    """The rules are part of Prometheus's configuration: a changed objective is a new task, as a
    changed configuration is."""
    first = dev.spec.services[0]
    assert first.objectives is not None
    stricter = replace(first.objectives, availability_percent=first.objectives.availability_percent + 0.25)
    spec = replace(dev.spec, services=(replace(first, objectives=stricter), *dev.spec.services[1:]))
    assert render_prometheus_config(spec) == render_prometheus_config(dev.spec), "only the rules change"
    changed = synth_spec(tmp_path / "out", spec)
    before = _container(_prometheus_task(dev), "config-loader")["Command"]
    after = _container(_prometheus_task(changed), "config-loader")["Command"]
    assert before != after


def test_prometheus_runs_as_the_issue_describes(profile: Synthesized) -> None:
    prometheus = profile.spec.prometheus
    task = _prometheus_task(profile)
    server = _container(task, prometheus.name)
    assert image_of(profile, OBSERVABILITY, server) == pulled_image(profile, prometheus.image)
    assert server["HealthCheck"]["Command"][:2] == ["CMD", "wget"]
    assert f"http://127.0.0.1:{prometheus.port}/-/healthy" in server["HealthCheck"]["Command"]
    assert server["DependsOn"] == [{"ContainerName": "config-loader", "Condition": "SUCCESS"}]
    assert f"--storage.tsdb.retention.time={prometheus.retention_days}d" in server["Command"]
    assert "--web.enable-lifecycle" not in server["Command"], "a new configuration is a new task: no reload API"
    loader = _container(task, "config-loader")
    assert image_of(profile, OBSERVABILITY, loader) == pulled_image(profile, profile.spec.helper_images.config_loader)
    (efs,) = [v["EFSVolumeConfiguration"] for v in task["Volumes"] if "EFSVolumeConfiguration" in v]
    assert efs["TransitEncryption"] == "ENABLED"
    assert efs["AuthorizationConfig"]["IAM"] == "ENABLED"
    services = _resources(profile, OBSERVABILITY, "AWS::ECS::Service")
    (service,) = [
        s["Properties"]
        for s in services.values()
        if [r["ContainerName"] for r in s["Properties"].get("ServiceRegistries", [])] == [prometheus.name]
    ]
    assert service["DeploymentConfiguration"]["MinimumHealthyPercent"] == 0
    assert service["DeploymentConfiguration"]["MaximumPercent"] == 100
    assert service["EnableExecuteCommand"] is prometheus.ecs_exec
    assert service["ServiceRegistries"][0]["ContainerPort"] == prometheus.port
    (registry,) = [
        r["Properties"]
        for r in _resources(profile, OBSERVABILITY, "AWS::ServiceDiscovery::Service").values()
        if r["Properties"]["Name"] == prometheus.name
    ]
    assert registry["DnsConfig"]["DnsRecords"] == [
        {"Type": "A", "TTL": CLOUD_MAP_TTL_SECONDS},
        {"Type": "SRV", "TTL": CLOUD_MAP_TTL_SECONDS},
    ]


def test_prometheus_reads_exactly_its_configuration_objects(profile: Synthesized) -> None:
    task = _prometheus_task(profile)
    role_id = task["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in _resources(profile, OBSERVABILITY, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (read,) = [s for s in statements if s["Action"] == "s3:GetObject"]
    resources = read["Resource"] if isinstance(read["Resource"], list) else [read["Resource"]]
    assert sorted(r["Fn::Join"][1][-1] for r in resources) == sorted(f"/{k}" for k in _prometheus_objects(profile))
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    prefix = next(iter(_prometheus_objects(profile))).rsplit("/", 1)[0] + "/"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}*"]}} or prefix in json.dumps(listing)


def test_grafana_per_profile(profile: Synthesized) -> None:
    grafana = profile.spec.grafana
    tasks = _resources(profile, OBSERVABILITY, "AWS::ECS::TaskDefinition").values()
    containers = {c["Name"]: c for t in tasks for c in t["Properties"]["ContainerDefinitions"]}
    if grafana is None:
        assert "grafana" not in containers
        return
    environment = {e["Name"]: e["Value"] for e in containers["grafana"]["Environment"]}
    assert environment["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true"
    assert environment["GF_SERVER_HTTP_PORT"] == str(grafana.port)
    assert [s["Name"] for s in containers["grafana"]["Secrets"]] == ["GF_SECURITY_ADMIN_PASSWORD"]
    (rule,) = _resources(profile, OBSERVABILITY, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert rule["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"] == [grafana.route, grafana.route_pattern]
    provisioning = render_grafana_provisioning(profile.spec)
    datasource = yaml.safe_load(provisioning["datasources/prometheus.yml"])["datasources"][0]
    assert (
        datasource["url"]
        == f"http://{profile.spec.prometheus.name}.{profile.spec.namespace}:{profile.spec.prometheus.port}"
    )
    assert datasource["uid"] == DATASOURCE_UID
    boards = dashboards(profile.spec, alertmanager_job=profile.spec.alertmanager.name)
    assert {f"dashboards/{name}" for name in boards} <= set(provisioning)
    for name, model in boards.items():
        assert json.loads(provisioning[f"dashboards/{name}"]) == model
    # Grafana's files hold no deploy-time value: each is stored as rendered.
    assert set(provisioning.values()) <= {c for c in _config_objects(profile).values() if isinstance(c, str)}


def test_every_alarm_notifies_when_it_fires_and_when_it_clears(profile: Synthesized) -> None:
    alarms = _resources(profile, OBSERVABILITY, "AWS::CloudWatch::Alarm")
    (heartbeat,) = [a for a in alarms.values() if a["Properties"].get("MetricName") == "NumberOfMessagesPublished"]
    ((heartbeat_topic, _),) = [d["Value"]["Fn::GetAtt"] for d in heartbeat["Properties"]["Dimensions"]]
    (topic_id,) = set(_resources(profile, OBSERVABILITY, "AWS::SNS::Topic")) - {heartbeat_topic}
    # load balancer 5xx; per target group of a public service (two where its roll-out shifts
    # traffic): unhealthy targets; per service: CPU, memory, below desired; Prometheus; database x3;
    # the alert path's heartbeat; the audit trail's changes outside the deploy path, where the
    # platform keeps the trail (tests/synth/test_record.py)
    spec = profile.spec
    groups = sum(2 if spec.rollout_of(s).shifts_traffic else 1 for s in spec.public_services)
    audit = len(AUDIT_METRICS) if spec.audit.by_platform else 0
    assert len(alarms) == 1 + groups + 3 * len(spec.services) + 1 + 3 + 1 + audit
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}], logical_id
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}], logical_id
    (dashboard,) = _resources(profile, OBSERVABILITY, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == profile.spec.stack_prefix


def test_remote_write_to_a_managed_workspace(dev: Synthesized, tmp_path: Path) -> None:
    spec = replace(dev.spec, prometheus=replace(dev.spec.prometheus, remote_write=True))
    synth = synth_spec(tmp_path, spec, checks=True)
    assert len(_resources(synth, DATA, "AWS::APS::Workspace")) == 1
    (content,) = [json.dumps(c) for k, c in _prometheus_objects(synth).items() if k.endswith(f"/{PROMETHEUS_CONFIG}")]
    assert "remote_write:" in content
    assert "PrometheusEndpoint" in content  # the workspace's endpoint, resolved at deploy
    assert "sigv4:" in content
    deployment = deployment_of(synth)
    entries = ledger_of(synth, deployment)
    writes = [e for e in entries if isinstance(e, Entry) and e.action == "aps:RemoteWrite"]
    assert len(writes) == 1, "the ledger has Prometheus's remote write"
    assert check_ledger(deployment, entries) == []
    report = synth.validation_report()
    assert all(plugin["violations"] == [] for plugin in report["pluginReports"])


def test_prometheus_spec_refuses_an_unpinned_image() -> None:
    with pytest.raises(SpecError, match=r"^prometheus.image: must name an image pinned by version"):
        PrometheusSpec(image="quay.io/prometheus/prometheus:latest")


def _task_with(synth: Synthesized, container: str) -> dict[str, Any]:
    for task in _resources(synth, OBSERVABILITY, "AWS::ECS::TaskDefinition").values():
        if container in [c["Name"] for c in task["Properties"]["ContainerDefinitions"]]:
            properties: dict[str, Any] = task["Properties"]
            return properties
    raise AssertionError(f"no task definition runs {container}")


def test_alertmanager_runs_alone_from_its_rendered_configuration(profile: Synthesized) -> None:
    alertmanager = profile.spec.alertmanager
    task = _task_with(profile, alertmanager.name)
    server = _container(task, alertmanager.name)
    assert image_of(profile, OBSERVABILITY, server) == pulled_image(profile, alertmanager.image)
    assert "--cluster.listen-address=" in server["Command"], "one Alertmanager, no peers to gossip with"
    assert f"--web.listen-address=:{alertmanager.port}" in server["Command"]
    assert f"http://127.0.0.1:{alertmanager.port}/-/healthy" in server["HealthCheck"]["Command"]
    assert server["User"] == alertmanager.user.ecs_user
    assert server["ReadonlyRootFilesystem"] is not alertmanager.ecs_exec
    (key,) = [k for k in _config_objects(profile) if k.startswith("alertmanager/")]
    loader = _container(task, "config-loader")
    assert loader["Command"][2]["Fn::Join"][1][-1] == f"/{key}"
    ((service_id, service),) = [
        (logical_id, s["Properties"])
        for logical_id, s in _resources(profile, OBSERVABILITY, "AWS::ECS::Service").items()
        if [r["ContainerName"] for r in s["Properties"].get("ServiceRegistries", [])] == [alertmanager.name]
    ]
    # Stops before its replacement starts: two would notify twice.
    assert service["DeploymentConfiguration"]["MinimumHealthyPercent"] == 0
    assert service["DeploymentConfiguration"]["MaximumPercent"] == 100
    # One task: by its count, or, where the profile sleeps, by its scalable target's bounds.
    if profile.spec.schedule is None:
        assert service["DesiredCount"] == 1
    else:
        (target,) = [
            t["Properties"]
            for t in _resources(profile, OBSERVABILITY, "AWS::ApplicationAutoScaling::ScalableTarget").values()
            if service_id in json.dumps(t["Properties"]["ResourceId"])
        ]
        assert "DesiredCount" not in service
        assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 1)


def test_the_heartbeat_alarm_fires_when_alertmanager_stops_publishing(profile: Synthesized) -> None:
    """Alertmanager publishes the heartbeat every ``heartbeat_minutes``; SNS reports its publishes every
    five minutes (SNS developer guide, "Monitoring Amazon SNS with CloudWatch"); the alarm counts them over
    periods no shorter than either and fires on three without one, missing data included."""
    alarms = _resources(profile, OBSERVABILITY, "AWS::CloudWatch::Alarm").values()
    (alarm,) = [a["Properties"] for a in alarms if a["Properties"].get("MetricName") == "NumberOfMessagesPublished"]
    every = profile.spec.alertmanager.heartbeat_minutes
    assert (alarm["Namespace"], alarm["Statistic"]) == ("AWS/SNS", "Sum")
    assert alarm["Period"] >= max(300, every * 60)
    assert (alarm["EvaluationPeriods"], alarm["Threshold"]) == (3, 1)
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["TreatMissingData"] == "breaching"
    ((topic, _),) = [d["Value"]["Fn::GetAtt"] for d in alarm["Dimensions"]]
    config = next(c for k, c in _config_objects(profile).items() if k.startswith("alertmanager/"))
    assert json.dumps({"Ref": topic}) in json.dumps(config), "Alertmanager publishes the heartbeat to the watched topic"
    assert f"repeat_interval: {every}m" in json.dumps(config)
