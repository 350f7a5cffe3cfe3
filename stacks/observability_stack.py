"""Observability stack: Prometheus (configuration and rules rendered from the spec), Alertmanager, Grafana,
alarms and the alert path's heartbeat, dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from layers.compute.handles import ObservedPlatform, PublicEntry
from layers.data.handles import ObservabilityState
from layers.network.security_groups import PlatformSecurityGroups, sealed
from layers.observability.alarm_quiet_hours import AlarmQuietHours
from layers.observability.alert_heartbeat import AlertHeartbeat
from layers.observability.alertmanager_server import AlertmanagerServer
from layers.observability.audit_alarms import AuditAlarms
from layers.observability.audit_trail import audit_namespace
from layers.observability.grafana_server import GrafanaServer
from layers.observability.observability_config import ObservabilityConfig
from layers.observability.platform_alarms import PlatformAlarms
from layers.observability.platform_dashboard import PlatformDashboard
from layers.observability.prometheus_server import PrometheusServer
from layers.shared.fargate_cluster import FargateCluster
from layers.shared.mirrored_images import ThirdPartyImages
from layers.shared.sleep_scaling import sleep_outside_window
from platform_spec import PlatformSpec, names


class ObservabilityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        vpc: ec2.IVpc,
        security_groups: PlatformSecurityGroups,
        state: ObservabilityState,
        platform: ObservedPlatform,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cluster = FargateCluster(
            self,
            "Cluster",
            spec=spec,
            vpc=vpc,
            logs_key=state.logging.key,
        )
        self.alarms = PlatformAlarms(self, "Alarms", email=spec.alarm_email)
        self.heartbeat = AlertHeartbeat(
            self,
            "Heartbeat",
            key=self.alarms.topic_key,
            every_minutes=spec.alertmanager.heartbeat_minutes,
            alarms=self.alarms,
        )
        config = ObservabilityConfig(
            self,
            "ConfigObjects",
            spec=spec,
            source=state.config,
            metrics_workspace=state.metrics_workspace,
            alarm_topic=self.alarms.topic,
            heartbeat_topic=self.heartbeat.topic,
            logging=state.logging,
        )
        images = ThirdPartyImages(spec)
        self.prometheus = PrometheusServer(
            self,
            "Prometheus",
            prometheus=spec.prometheus,
            images=images,
            placement=cluster.placement(
                sealed(self, "PrometheusGroup", security_groups.prometheus), namespace=platform.namespace
            ),
            storage=state.prometheus_storage,
            config=config.prometheus,
            remote_write_workspace=state.metrics_workspace,
            logging=state.logging,
        )
        self.alertmanager = AlertmanagerServer(
            self,
            "Alertmanager",
            alertmanager=spec.alertmanager,
            images=images,
            placement=cluster.placement(
                sealed(self, "AlertmanagerGroup", security_groups.alertmanager), namespace=platform.namespace
            ),
            config=config.alertmanager,
            topics=(self.alarms.topic, self.heartbeat.topic),
            topic_key=self.alarms.topic_key,
            logging=state.logging,
        )
        self.grafana: GrafanaServer | None = None
        if spec.grafana and config.grafana and state.grafana_admin_password:
            self.grafana = GrafanaServer(
                self,
                "Grafana",
                grafana=spec.grafana,
                images=images,
                placement=cluster.placement(sealed(self, "GrafanaGroup", security_groups.grafana)),
                entry=PublicEntry(listener=platform.listener, public_hosts=platform.public_hosts),
                admin_password=state.grafana_admin_password,
                provisioning=config.grafana,
                logging=state.logging,
            )
        self.alarms.application_services(
            platform.services, load_balancer=platform.load_balancer, cluster_name=spec.cluster_name
        )
        self.alarms.not_running("Prometheus", self.prometheus.service, cluster_name=spec.cluster_name)
        self.alarms.database(
            spec.database_identifier,
            allocated_storage_gib=spec.database.allocated_storage_gib,
            max_connections=spec.database.max_connections_alarm,
        )
        if spec.audit.by_platform:
            AuditAlarms(self, "AuditAlarms", namespace=audit_namespace(spec.stack_prefix), alarms=self.alarms)
        PlatformDashboard(self, "Dashboard", name=spec.stack_prefix, alarms=self.alarms.alarms)
        if spec.schedule is not None:
            services = [self.prometheus.service, self.alertmanager.service]
            for service in services + ([self.grafana.service] if self.grafana else []):
                sleep_outside_window(
                    service,
                    schedule=spec.schedule,
                    wakes=spec.schedule.observability_wakes,
                    min_tasks=1,
                    max_tasks=1,
                )
            AlarmQuietHours(self, "QuietHours", schedule=spec.schedule, watched=(self.alarms, self.heartbeat))
        for name, workload in ((spec.prometheus.name, self.prometheus), (spec.alertmanager.name, self.alertmanager)):
            for attribute, value in (
                (names.SERVICE_ARN, workload.service.service_arn),
                (names.CLOUD_MAP_SERVICE_ID, workload.registration.cloud_map_service.service_id),
                (names.LOG_GROUP, workload.log_group.log_group_name),
            ):
                CfnOutput(self, names.output_key(name, attribute), value=value)
