"""Prometheus's configuration and rules, Alertmanager's configuration and Grafana's provisioning:
rendered from the spec at synth, named by their content hash, written to the configuration bucket at
deploy."""

from __future__ import annotations

from aws_cdk import aws_aps as aps
from aws_cdk import aws_sns as sns
from constructs import Construct

from layers.data.handles import ConfigSource
from layers.observability.alertmanager_config import render_alertmanager_config
from layers.observability.config_object import ConfigObjects, StoredConfig
from layers.shared.log_groups import Logging
from layers.shared.rendered_config import render_grafana_provisioning, render_prometheus_files, stored_tree
from platform_spec import PlatformSpec

ALERTMANAGER_CONFIG = "alertmanager.yml"


class ObservabilityConfig(ConfigObjects):
    """The files, and each as its reader takes it: ``prometheus`` (its configuration and rules, a
    tree), ``alertmanager`` (one file) and ``grafana`` (a tree, when the spec has Grafana). A
    changed file is a new object and so a new task definition revision of its reader."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        source: ConfigSource,
        metrics_workspace: aps.CfnWorkspace | None,
        alarm_topic: sns.ITopic,
        heartbeat_topic: sns.ITopic,
        logging: Logging,
    ) -> None:
        """``spec``: what the files are rendered from. ``source``: the configuration bucket and its
        key. ``metrics_workspace``: where Prometheus remote-writes, if anywhere. ``alarm_topic``: where
        Alertmanager publishes alerts. ``heartbeat_topic``: where it publishes the always-firing
        ``Watchdog`` alert (``AlertHeartbeat``). ``logging``: the writing function's log group."""
        remote_write_url = (
            f"{metrics_workspace.attr_prometheus_endpoint}api/v1/remote_write" if metrics_workspace else None
        )
        prometheus_prefix, prometheus_files = stored_tree(
            scope, "prometheus", render_prometheus_files(spec, remote_write_url=remote_write_url)
        )
        alertmanager_yml = render_alertmanager_config(
            spec, alarm_topic_arn=alarm_topic.topic_arn, heartbeat_topic_arn=heartbeat_topic.topic_arn
        )
        _, alertmanager_files = stored_tree(scope, "alertmanager", {ALERTMANAGER_CONFIG: alertmanager_yml})
        grafana_prefix, grafana_files = (
            stored_tree(scope, "grafana", render_grafana_provisioning(spec)) if spec.grafana else ("", {})
        )
        super().__init__(
            scope,
            construct_id,
            source=source,
            files={**prometheus_files, **alertmanager_files, **grafana_files},
            logging=logging,
        )
        self.prometheus = self.stored(list(prometheus_files), list_prefix=prometheus_prefix)
        self.alertmanager = self.stored(list(alertmanager_files))
        self.grafana: StoredConfig | None = (
            self.stored(list(grafana_files), list_prefix=grafana_prefix) if spec.grafana else None
        )
