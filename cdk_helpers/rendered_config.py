"""Configuration files rendered at synth from the spec and the templates in assets/."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jinja2
from aws_cdk import Stack
from constructs import Construct

from platform_spec import PlatformSpec

ASSETS = Path(__file__).resolve().parent.parent / "assets"
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


def render_prometheus_config(spec: PlatformSpec, *, remote_write_url: str | None = None) -> str:
    return _TEMPLATES.get_template("prometheus/prometheus.yml.j2").render(
        prometheus=spec.prometheus,
        project=spec.project,
        environment=spec.environment,
        region=spec.region,
        self_job=spec.prometheus.name,
        jobs=scrape_jobs(spec),
        remote_write_url=remote_write_url,
    )


def render_grafana_provisioning(spec: PlatformSpec) -> dict[str, str]:
    """Grafana's provisioning tree, relative path -> content."""
    dashboard = _TEMPLATES.get_template("grafana/platform-dashboard.json.j2").render(
        project=spec.project, environment=spec.environment, jobs=scrape_jobs(spec)
    )
    json.loads(dashboard)  # a template mistake fails the synth, not Grafana at start-up
    return {
        "datasources/prometheus.yml": _TEMPLATES.get_template("grafana/datasources.yml.j2").render(
            prometheus_url=spec.prometheus_url
        ),
        "dashboards/provider.yml": _TEMPLATES.get_template("grafana/dashboards.yml.j2").render(
            project=spec.project, dashboards_path=GRAFANA_DASHBOARDS_PATH
        ),
        "dashboards/platform.json": dashboard,
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


def prometheus_config_file(scope: Construct, spec: PlatformSpec, *, remote_write_url: str | None) -> dict[str, str]:
    """Prometheus's configuration by the object key it is written to: ``prometheus/prometheus-<hash>.yml``,
    the hash taken of what CloudFormation will write (tokens resolved to their references), so a
    changed configuration is a new object and a new task definition."""
    config = render_prometheus_config(spec, remote_write_url=remote_write_url)
    stack = Stack.of(scope)
    resolved = stack.resolve(stack.to_json_string(config))
    return {f"prometheus/prometheus-{content_hash(str(resolved))}.yml": config}


def grafana_provisioning_files(spec: PlatformSpec) -> tuple[str, dict[str, str]]:
    """Grafana's provisioning tree under ``grafana/<hash>/``, and that prefix."""
    provisioning = render_grafana_provisioning(spec)
    prefix = f"grafana/{content_hash(*sorted(provisioning.values()))}/"
    return prefix, {f"{prefix}{path}": content for path, content in provisioning.items()}
