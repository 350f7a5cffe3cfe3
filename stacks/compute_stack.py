"""Compute stack: the cluster, Cloud Map, every application service, the load balancer and CloudFront."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from cdk_constructs.application_service import ApplicationService
from cdk_constructs.database_bootstrap import DatabaseBootstrap
from cdk_constructs.edge_distribution import EdgeDistribution
from cdk_constructs.fargate_cluster import FargateCluster
from cdk_constructs.image_repositories import ImageRepositories
from cdk_constructs.images_present_check import ImagesPresentCheck
from cdk_constructs.internal_load_balancer import InternalLoadBalancer
from cdk_constructs.postgres_database import PostgresDatabase
from cdk_constructs.released_image_tags import ReleasedImageTags
from cdk_constructs.security_groups import PlatformSecurityGroups, sealed
from cdk_constructs.site_domain import SiteDomain
from cdk_helpers.fargate import capacity_strategy
from cdk_helpers.rendered_config import render_database_bootstrap
from spec import outputs
from spec.model import PlatformSpec


def env_name(service_name: str) -> str:
    """``backend`` -> ``BACKEND_URL``: the variable a caller reads the service's URL from."""
    return f"{service_name.upper().replace('-', '_')}_URL"


class ComputeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        vpc: ec2.IVpc,
        security_groups: PlatformSecurityGroups,
        database: PostgresDatabase,
        repositories: ImageRepositories,
        access_logs: s3.IBucket,
        logs_key: kms.IKey,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Imported by its literal name (the data stack owns it): see PlatformSpec.exec_log_group_name.
        exec_log_group = logs.LogGroup.from_log_group_name(self, "ExecSessions", spec.exec_log_group_name)
        cluster = FargateCluster(
            self,
            "Cluster",
            cluster_name=spec.cluster_name,
            vpc=vpc,
            exec_log_group=exec_log_group,
            logs_key=logs_key,
        )
        self.cluster = cluster.cluster
        self.exec_log_group = cluster.exec_log_group
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self, "Namespace", name=spec.namespace, vpc=vpc, description=f"{spec.stack_prefix} service discovery"
        )
        site = SiteDomain(self, "Domain", domain=spec.edge.domain) if spec.edge.domain else None
        self.load_balancer = InternalLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            security_group=sealed(self, "LoadBalancerGroup", security_groups.load_balancer),
            port=spec.edge.origin_port,
            certificate=site.origin_certificate if site else None,
            access_logs=access_logs,
            deletion_protection=spec.production,
        )
        capacity = capacity_strategy(spot=spec.fargate_spot)
        self.released_tags = ReleasedImageTags(self, "ReleasedImageTags", services=spec.services)
        images_present = ImagesPresentCheck(
            self,
            "ImagesPresent",
            images=[(repositories.repository(s, used_from=self), self.released_tags.tag(s)) for s in spec.services],
            logs_key=logs_key,
            log_retention_days=spec.log_retention_days,
        )
        bootstrap = DatabaseBootstrap(
            self,
            "DatabaseBootstrap",
            database=database,
            sql=render_database_bootstrap(spec),
            image=spec.helper_images.database_client,
            cluster=self.cluster,
            cluster_name=spec.cluster_name,
            subnets=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnets,
            security_group=sealed(self, "DatabaseBootstrapGroup", security_groups.database_bootstrap),
            volume_owner_image=spec.helper_images.volume_owner,
            logs_key=logs_key,
            log_retention_days=spec.log_retention_days,
        )
        self.services: dict[str, ApplicationService] = {}
        for index, service in enumerate(spec.services):
            self.services[service.name] = ApplicationService(
                self,
                service.name,
                service=service,
                cluster=self.cluster,
                exec_log_group=cluster.exec_log_group,
                namespace=self.namespace,
                security_group=sealed(self, f"{service.name}Group", security_groups.service(service)),
                repository=repositories.repository(service, used_from=self),
                image_tag=self.released_tags.tag(service),
                listener=self.load_balancer.listener,
                route_priority=10 * (index + 1),
                capacity=capacity,
                callee_urls={env_name(c): spec.service_url(spec.service(c)) for c in service.calls},
                database=database if service.uses_database else None,
                logs_key=logs_key,
                log_retention_days=spec.log_retention_days,
            )
        for application in self.services.values():
            # Images checked and database users in place before any service starts or changes.
            application.service.node.add_dependency(images_present, bootstrap.resource)
        self._outputs()
        self.edge = EdgeDistribution(
            self,
            "Edge",
            load_balancer=self.load_balancer.load_balancer,
            edge=spec.edge,
            uncached_routes=[
                *(s.route for s in spec.services if s.route is not None),
                *([spec.grafana.route_pattern] if spec.grafana else []),
            ],
            internal_paths=spec.edge_internal_paths(),
            grafana=spec.grafana,
            site=site,
            access_logs=access_logs,
            log_group_prefix=spec.stack_prefix,
            logs_key=logs_key,
            log_retention_days=spec.log_retention_days,
        )
        CfnOutput(self, outputs.PUBLIC_URL, value=self.edge.public_url)

    def _outputs(self) -> None:
        """What the verify command needs to find the running platform."""
        CfnOutput(self, outputs.CLUSTER_NAME, value=self.cluster.cluster_name)
        for name, application in self.services.items():
            for attribute, value in (
                (outputs.SERVICE_ARN, application.service.service_arn),
                (outputs.CLOUD_MAP_SERVICE_ID, application.registration.cloud_map_service.service_id),
                (outputs.TARGET_GROUP_ARN, application.target_group.target_group_arn),
                (outputs.LOG_GROUP, application.log_group.log_group_name),
                (outputs.TASK_DEFINITION_ARN, application.task_definition.task_definition_arn),
                (outputs.RELEASED_IMAGE_TAG, self.released_tags.tag(application.spec)),
            ):
                CfnOutput(self, outputs.output_key(name, attribute), value=value)
