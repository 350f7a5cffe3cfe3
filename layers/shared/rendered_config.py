"""Configuration files rendered at synth from the spec and the templates in assets/."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jinja2
from aws_cdk import Stack
from constructs import Construct

from layers.observability.alert_rules import render_rules
from layers.observability.dashboard_builder import DATASOURCE_UID
from layers.observability.grafana_dashboards import dashboards
from platform_spec import PlatformSpec

ASSETS = Path(__file__).resolve().parents[2] / "assets"
GRAFANA_DASHBOARDS_PATH = "/etc/grafana/provisioning/dashboards"

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(ASSETS)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # YAML and JSON, not HTML
)


def scrape_jobs(spec: PlatformSpec) -> list[dict[str, str]]:
    """One job per scraped application service: its name, SRV name and metrics path."""
    return [
        {"name": service.name, "dns_name": spec.dns_name(service), "metrics_path": str(service.metrics_path)}
        for service in spec.scraped_services
    ]


def render_asset(path: str, **values: object) -> str:
    """``assets/<path>`` rendered with ``values``: a value the template names and is not given
    fails the synth (undefined values are strict)."""
    return _TEMPLATES.get_template(path).render(**values)


PROMETHEUS_CONFIG = "prometheus.yml"
PROMETHEUS_RULES = "rules.yml"
"""Beside the configuration, which names it relative to itself."""


def render_prometheus_config(spec: PlatformSpec, *, remote_write_url: str | None = None) -> str:
    return _TEMPLATES.get_template("prometheus/prometheus.yml.j2").render(
        prometheus=spec.prometheus,
        project=spec.project,
        environment=spec.environment,
        region=spec.region,
        self_job=spec.prometheus.name,
        jobs=scrape_jobs(spec),
        rules_file=PROMETHEUS_RULES,
        alertmanager={"job": spec.alertmanager.name, "dns_name": f"{spec.alertmanager.name}.{spec.namespace}"},
        remote_write_url=remote_write_url,
    )


def render_prometheus_files(spec: PlatformSpec, *, remote_write_url: str | None = None) -> dict[str, str]:
    """Prometheus's configuration directory: its configuration and its rules, by file name."""
    return {
        PROMETHEUS_CONFIG: render_prometheus_config(spec, remote_write_url=remote_write_url),
        PROMETHEUS_RULES: render_rules(spec),
    }


def render_grafana_provisioning(spec: PlatformSpec) -> dict[str, str]:
    """Grafana's provisioning tree, relative path -> content: its data source, the dashboard
    provider, and the dashboards built from the spec (layers/observability/grafana_dashboards.py)."""
    boards = dashboards(spec, alertmanager_job=spec.alertmanager.name)
    return {
        **{f"dashboards/{name}": json.dumps(model, indent=2, sort_keys=True) + "\n" for name, model in boards.items()},
        "datasources/prometheus.yml": _TEMPLATES.get_template("grafana/datasources.yml.j2").render(
            prometheus_url=spec.prometheus_url, uid=DATASOURCE_UID
        ),
        "dashboards/provider.yml": _TEMPLATES.get_template("grafana/dashboards.yml.j2").render(
            project=spec.project, dashboards_path=GRAFANA_DASHBOARDS_PATH
        ),
    }


def render_database_bootstrap(spec: PlatformSpec) -> str:
    """The SQL that creates the platform's database users (``assets/database/bootstrap.sql.j2``)."""
    database = spec.database
    users = list(spec.database_users())
    return _TEMPLATES.get_template("database/bootstrap.sql.j2").render(
        database=database.database_name,
        schema=database.schema,
        migrator=database.migrator_user,
        users=users,
        roles=[database.migrator_user, *users],
    )


def content_hash(*parts: str) -> str:
    """Short, stable digest that names a rendered file's object in S3."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def stored_tree(scope: Construct, stem: str, files: dict[str, str]) -> tuple[str, dict[str, str]]:
    """``files`` by the object key each is written to, under ``<stem>/<hash>/``, and that prefix: the
    hash taken of what CloudFormation will write (tokens resolved to their references), so a
    changed file is a new object and a new task definition of its reader."""
    stack = Stack.of(scope)
    resolved = [str(stack.resolve(stack.to_json_string(content))) for _, content in sorted(files.items())]
    prefix = f"{stem}/{content_hash(*resolved)}/"
    return prefix, {f"{prefix}{name}": content for name, content in files.items()}
