"""Prometheus's configuration and Grafana's provisioning: rendered from the spec at synth,
named by their content hash, written to the configuration bucket at deploy."""

from __future__ import annotations

from aws_cdk import aws_aps as aps
from constructs import Construct

from cdk_constructs.config_object import ConfigObjects, StoredConfig
from cdk_helpers.handles import ConfigSource
from cdk_helpers.log_groups import Logging
from cdk_helpers.rendered_config import grafana_provisioning_files, prometheus_config_file
from platform_spec import PlatformSpec


class ObservabilityConfig(ConfigObjects):
    """The files, and each as its reader takes it: ``prometheus`` (one file) and
    ``grafana`` (a tree, when the spec has Grafana). A changed file is a new object and
    so a new task definition revision of its reader."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        source: ConfigSource,
        metrics_workspace: aps.CfnWorkspace | None,
        logging: Logging,
    ) -> None:
        """``spec``: what the files are rendered from. ``source``: the configuration bucket and its
        key. ``metrics_workspace``: where Prometheus remote-writes, if anywhere. ``logging``: the
        writing function's log group."""
        remote_write_url = (
            f"{metrics_workspace.attr_prometheus_endpoint}api/v1/remote_write" if metrics_workspace else None
        )
        prometheus_files = prometheus_config_file(scope, spec, remote_write_url=remote_write_url)
        grafana_prefix, grafana_files = grafana_provisioning_files(spec) if spec.grafana else ("", {})
        super().__init__(
            scope, construct_id, source=source, files={**prometheus_files, **grafana_files}, logging=logging
        )
        self.prometheus = self.stored(list(prometheus_files))
        self.grafana: StoredConfig | None = (
            self.stored(list(grafana_files), list_prefix=grafana_prefix) if spec.grafana else None
        )
