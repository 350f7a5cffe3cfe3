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

from cdk_helpers import rendered_config
from cdk_helpers.rendered_config import render_grafana_provisioning, render_prometheus_config
from compliance.access_ledger import Entry, check_ledger
from platform_spec import PrometheusSpec, SpecError
from platform_spec.names import COMPUTE, DATA, OBSERVABILITY
from tests.platform_synth import Synthesized, synth_spec
from tests.templates import deployment_of, ledger_of

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
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package")
    config = tmp_path / "prometheus.yml"
    config.write_text(render_prometheus_config(profile.spec))
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_srv_job_per_service_and_one_service_per_job(profile: Synthesized) -> None:
    config = yaml.safe_load(render_prometheus_config(profile.spec))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # Every service that serves metrics on a port; a worker without them is not scraped.
    assert set(jobs) == {profile.spec.prometheus.name, *(s.name for s in profile.spec.scraped_services)}
    assert {s.name for s in profile.spec.scraped_services} == {
        s.name for s in profile.spec.services if s.container_port is not None and s.metrics_path is not None
    }
    registered = {
        f"{r['Properties']['Name']}.{profile.spec.namespace}"
        for r in _resources(profile, COMPUTE, "AWS::ServiceDiscovery::Service").values()
    }
    for service in profile.spec.scraped_services:
        job = jobs[service.name]
        assert job["metrics_path"] == service.metrics_path
        (discovery,) = job["dns_sd_configs"]
        assert discovery["type"] == "SRV"
        assert discovery["names"] == [profile.spec.dns_name(service)]
        assert discovery["names"][0] in registered
    assert config["global"]["external_labels"] == {
        "project": profile.spec.project,
        "environment": profile.spec.environment,
    }


def test_the_stored_object_is_the_rendered_configuration(profile: Synthesized) -> None:
    objects = _config_objects(profile)
    (key,) = [k for k in objects if k.startswith("prometheus/")]
    assert objects[key] == render_prometheus_config(profile.spec)
    loader = _container(_prometheus_task(profile), "config-loader")
    assert loader["Essential"] is False
    assert loader["Command"][:2] == ["s3", "cp"]
    assert loader["Command"][2]["Fn::Join"][1][-1] == f"/{key}"


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


def test_prometheus_runs_as_the_issue_describes(profile: Synthesized) -> None:
    prometheus = profile.spec.prometheus
    task = _prometheus_task(profile)
    server = _container(task, prometheus.name)
    assert server["Image"] == prometheus.image
    assert server["HealthCheck"]["Command"][:2] == ["CMD", "wget"]
    assert f"http://127.0.0.1:{prometheus.port}/-/healthy" in server["HealthCheck"]["Command"]
    assert server["DependsOn"] == [{"ContainerName": "config-loader", "Condition": "SUCCESS"}]
    assert f"--storage.tsdb.retention.time={prometheus.retention_days}d" in server["Command"]
    assert "--web.enable-lifecycle" not in server["Command"], "a new configuration is a new task: no reload API"
    assert _container(task, "config-loader")["Image"] == profile.spec.helper_images.config_loader
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
    assert registry["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}]


def test_prometheus_reads_exactly_its_configuration_object(profile: Synthesized) -> None:
    task = _prometheus_task(profile)
    role_id = task["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in _resources(profile, OBSERVABILITY, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (read,) = [s for s in statements if s["Action"] == "s3:GetObject"]
    (key,) = [k for k in _config_objects(profile) if k.startswith("prometheus/")]
    assert read["Resource"]["Fn::Join"][1][-1] == f"/{key}"
    assert not any("s3:ListBucket" in json.dumps(s["Action"]) for s in statements)


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
    dashboard = json.loads(provisioning["dashboards/platform.json"])
    titles = " ".join(panel["title"] for panel in dashboard["panels"])
    assert all(service.name in titles for service in profile.spec.scraped_services)
    assert set(provisioning.values()) <= set(_config_objects(profile).values())


def test_every_alarm_notifies_when_it_fires_and_when_it_clears(profile: Synthesized) -> None:
    alarms = _resources(profile, OBSERVABILITY, "AWS::CloudWatch::Alarm")
    (topic_id,) = _resources(profile, OBSERVABILITY, "AWS::SNS::Topic")
    # load balancer 5xx; per public service: unhealthy targets; per service: CPU, memory, below desired;
    # Prometheus; database x3
    spec = profile.spec
    assert len(alarms) == 1 + len(spec.public_services) + 3 * len(spec.services) + 1 + 3
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}], logical_id
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}], logical_id
    (dashboard,) = _resources(profile, OBSERVABILITY, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == profile.spec.stack_prefix


def test_remote_write_to_a_managed_workspace(dev: Synthesized, tmp_path: Path) -> None:
    spec = replace(dev.spec, prometheus=replace(dev.spec.prometheus, remote_write=True))
    synth = synth_spec(tmp_path, spec, checks=True)
    assert len(_resources(synth, DATA, "AWS::APS::Workspace")) == 1
    (content,) = [json.dumps(c) for k, c in _config_objects(synth).items() if k.startswith("prometheus/")]
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
