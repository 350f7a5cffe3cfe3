"""Observability stack: Prometheus (configuration rendered from the spec), Grafana, alarms, dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.config_object import ConfigObjects
from cdk_constructs.fargate_cluster import FargateCluster
from cdk_constructs.grafana_server import GrafanaServer
from cdk_constructs.platform_alarms import PlatformAlarms
from cdk_constructs.platform_dashboard import PlatformDashboard
from cdk_constructs.prometheus_server import PrometheusServer
from cdk_constructs.security_groups import PlatformSecurityGroups, sealed
from cdk_helpers.fargate import capacity_strategy
from cdk_helpers.rendered_config import content_hash, render_grafana_provisioning, render_prometheus_config
from spec import outputs
from spec.model import PlatformSpec
from stacks.compute_stack import ComputeStack
from stacks.data_stack import DataStack


class ObservabilityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        security_groups: PlatformSecurityGroups,
        data: DataStack,
        compute: ComputeStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        capacity = capacity_strategy(spot=spec.fargate_spot)
        exec_log_group = logs.LogGroup.from_log_group_name(self, "ExecSessions", spec.exec_log_group_name)
        cluster = FargateCluster.named(
            self,
            "Cluster",
            cluster_name=spec.cluster_name,
            vpc=compute.cluster.vpc,
            exec_log_group=exec_log_group,
            logs_key=data.logs_key,
        )
        config_key = self._prometheus_config_key(spec, data)
        files = {config_key: self.prometheus_config}
        grafana_files: dict[str, str] = {}
        grafana_prefix = ""
        if spec.grafana is not None:
            provisioning = render_grafana_provisioning(spec)
            grafana_prefix = f"grafana/{content_hash(*sorted(provisioning.values()))}/"
            grafana_files = {f"{grafana_prefix}{path}": content for path, content in provisioning.items()}
            files.update(grafana_files)
        config_objects = ConfigObjects(
            self,
            "ConfigObjects",
            bucket=data.config_bucket,
            key=data.data_key,
            files=files,
            logs_key=data.logs_key,
            log_retention_days=spec.log_retention_days,
        )
        self.prometheus = PrometheusServer(
            self,
            "Prometheus",
            prometheus=spec.prometheus,
            helper_images=spec.helper_images,
            cluster=cluster,
            exec_log_group=exec_log_group,
            namespace=compute.namespace,
            security_group=sealed(self, "PrometheusGroup", security_groups.prometheus),
            capacity=capacity,
            file_system=data.prometheus_file_system,
            access_point=data.prometheus_access_point,
            config_bucket=data.config_bucket,
            config_key=data.data_key,
            config_object_key=config_key,
            remote_write_workspace_arn=data.metrics_workspace.attr_arn if data.metrics_workspace else None,
            logs_key=data.logs_key,
            log_retention_days=spec.log_retention_days,
        )
        for config_object in config_objects.objects:
            self.prometheus.service.node.add_dependency(config_object)
        self.grafana: GrafanaServer | None = None
        if spec.grafana is not None and data.grafana_admin_password is not None:
            self.grafana = GrafanaServer(
                self,
                "Grafana",
                grafana=spec.grafana,
                helper_images=spec.helper_images,
                cluster=cluster,
                exec_log_group=exec_log_group,
                security_group=sealed(self, "GrafanaGroup", security_groups.grafana),
                capacity=capacity,
                listener=compute.load_balancer.listener,
                public_hosts=compute.edge.public_hosts,
                admin_secret=data.grafana_admin_password.secret,
                config_bucket=data.config_bucket,
                config_key=data.data_key,
                provisioning_prefix=grafana_prefix,
                provisioning_keys=list(grafana_files),
                logs_key=data.logs_key,
                log_retention_days=spec.log_retention_days,
            )
            for config_object in config_objects.objects:
                self.grafana.service.node.add_dependency(config_object)
        self.alarms = self._build_alarms(spec, data, compute)
        name = spec.prometheus.name
        CfnOutput(self, outputs.output_key(name, outputs.SERVICE_ARN), value=self.prometheus.service.service_arn)
        CfnOutput(
            self,
            outputs.output_key(name, outputs.CLOUD_MAP_SERVICE_ID),
            value=self.prometheus.registration.cloud_map_service.service_id,
        )
        CfnOutput(self, outputs.output_key(name, outputs.LOG_GROUP), value=self.prometheus.log_group.log_group_name)
        PlatformDashboard(self, "Dashboard", name=spec.stack_prefix, alarms=self.alarms.alarms)

    def _prometheus_config_key(self, spec: PlatformSpec, data: DataStack) -> str:
        workspace = data.metrics_workspace
        remote_write_url = f"{workspace.attr_prometheus_endpoint}api/v1/remote_write" if workspace else None
        self.prometheus_config = render_prometheus_config(spec, remote_write_url=remote_write_url)
        # Hash what CloudFormation will write, tokens resolved to their references.
        resolved = self.to_json_string(self.prometheus_config)
        return f"prometheus/prometheus-{content_hash(str(self.resolve(resolved)))}.yml"

    def _build_alarms(self, spec: PlatformSpec, data: DataStack, compute: ComputeStack) -> PlatformAlarms:
        alarms = PlatformAlarms(self, "Alarms", email=spec.alarm_email)
        cluster_name = spec.cluster_name
        alarms.load_balancer(compute.load_balancer.load_balancer)
        for name, application in compute.services.items():
            alarms.unhealthy_targets(name, application.target_group, compute.load_balancer.load_balancer)
            alarms.ecs_service(name, application.service, cluster_name=cluster_name)
        alarms.not_running("Prometheus", self.prometheus.service, cluster_name=cluster_name)
        alarms.database(
            spec.database_identifier,
            allocated_storage_gib=spec.database.allocated_storage_gib,
            max_connections=spec.database.max_connections_alarm,
        )
        return alarms
