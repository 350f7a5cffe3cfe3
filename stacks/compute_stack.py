"""Compute stack: the cluster, Cloud Map, every application service, the load balancer and CloudFront."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from layers.compute.application_service import ApplicationService
from layers.compute.database_bootstrap import DatabaseBootstrap
from layers.compute.deployment_alarms import Caller
from layers.compute.handles import ObservedPlatform, ReleasedCompute
from layers.compute.images_present_check import ImagesPresentCheck
from layers.compute.internal_load_balancer import InternalLoadBalancer
from layers.compute.released_image_tags import ReleasedImageTags
from layers.compute.service_route import ListenerRoute
from layers.data.handles import ComputeState
from layers.edge.edge_distribution import EdgeDistribution
from layers.edge.handles import EdgeGuardsHandle
from layers.edge.site_domain import SiteDomain
from layers.network.security_groups import PlatformSecurityGroups, sealed
from layers.shared.fargate_cluster import FargateCluster
from layers.shared.mirrored_images import ThirdPartyImages
from layers.shared.rendered_config import render_database_bootstrap
from layers.shared.sleep_scaling import sleep_outside_window
from platform_spec import PlatformSpec, names


class ComputeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        vpc: ec2.IVpc,
        security_groups: PlatformSecurityGroups,
        state: ComputeState,
        edge_guards: EdgeGuardsHandle | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        logging, repositories = state.logging, state.repositories
        cluster = FargateCluster(
            self,
            "Cluster",
            spec=spec,
            vpc=vpc,
            logs_key=logging.key,
            create=True,
        )
        self.cluster = cluster.cluster
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self, "Namespace", name=spec.namespace, vpc=vpc, description=f"{spec.stack_prefix} service discovery"
        )
        site = (
            SiteDomain(
                self,
                "Domain",
                domain=spec.edge.domain,
                viewer=edge_guards.viewer_certificate if edge_guards else None,
            )
            if spec.edge.domain
            else None
        )
        self.load_balancer = InternalLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            security_group=sealed(self, "LoadBalancerGroup", security_groups.load_balancer),
            port=spec.edge.origin_port,
            certificate=site.origin_certificate if site else None,
            access_logs=state.access_logs,
            deletion_protection=spec.production,
        )
        self.released_tags = ReleasedImageTags(self, "ReleasedImageTags", services=spec.services)
        images_present = ImagesPresentCheck(
            self,
            "ImagesPresent",
            images=[(repositories.repository(s, used_from=self), self.released_tags.tag(s)) for s in spec.services],
            logging=logging,
        )
        self._images_present = images_present
        bootstrap = DatabaseBootstrap(
            self,
            "DatabaseBootstrap",
            database=state.database,
            sql=render_database_bootstrap(spec),
            images=ThirdPartyImages(spec),
            placement=cluster.placement(sealed(self, "DatabaseBootstrapGroup", security_groups.database_bootstrap)),
            cluster_name=spec.cluster_name,
            logging=logging,
        )
        self.services: dict[str, ApplicationService] = {}
        for index, service in enumerate(spec.services):
            self.services[service.name] = ApplicationService(
                self,
                service.name,
                service=service,
                rollout=spec.rollout_of(service),
                placement=cluster.placement(
                    sealed(self, f"{service.name}Group", security_groups.service(service)), namespace=self.namespace
                ),
                image=ecs.ContainerImage.from_ecr_repository(
                    repositories.repository(service, used_from=self), tag=self.released_tags.tag(service)
                ),
                route=ListenerRoute(listener=self.load_balancer.listener, priority=10 * (index + 1)),
                callee_urls={spec.service(c).url_variable: spec.service_url(spec.service(c)) for c in service.calls},
                database=state.database if service.uses_database else None,
                logging=logging,
            )
            # Images checked and database users in place before any service starts or changes.
            self.services[service.name].service.node.add_dependency(images_present, bootstrap.resource)
        for name, application in self.services.items():
            callers = [
                Caller(service=caller, target_groups=self.services[caller.name].target_groups)
                for caller in spec.services
                if name in caller.calls
            ]
            application.roll_back_on_alarms(load_balancer=self.load_balancer.load_balancer, callers=callers)
            if spec.schedule is not None:
                sleep_outside_window(
                    application.service,
                    schedule=spec.schedule,
                    wakes=spec.schedule.services_wake,
                    min_tasks=application.spec.min_tasks,
                    max_tasks=application.spec.max_tasks,
                    scaling=application.scaling,
                )
        self._outputs()
        self.edge = EdgeDistribution(
            self,
            "Edge",
            spec=spec,
            load_balancer=self.load_balancer.load_balancer,
            site=site,
            access_logs=state.access_logs,
            logging=logging,
            guards=edge_guards,
        )
        CfnOutput(self, names.PUBLIC_URL, value=self.edge.public_url)

    @property
    def observed(self) -> ObservedPlatform:
        return ObservedPlatform(
            namespace=self.namespace,
            listener=self.load_balancer.listener,
            load_balancer=self.load_balancer.load_balancer,
            public_hosts=self.edge.public_hosts,
            services=self.services,
        )

    @property
    def released(self) -> ReleasedCompute:
        return ReleasedCompute(services=tuple(self.services.values()), hooks=(self._images_present.function,))

    def _outputs(self) -> None:
        """What the verify command needs to find the running platform."""
        CfnOutput(self, names.CLUSTER_NAME, value=self.cluster.cluster_name)
        for name, application in self.services.items():
            values = {
                names.SERVICE_ARN: application.service.service_arn,
                names.LOG_GROUP: application.log_group.log_group_name,
                names.TASK_DEFINITION_ARN: application.task_definition.task_definition_arn,
                names.RELEASED_IMAGE_TAG: self.released_tags.tag(application.spec),
            }
            if application.registration is not None:
                values[names.CLOUD_MAP_SERVICE_ID] = application.registration.cloud_map_service.service_id
            if application.target_groups:
                values[names.TARGET_GROUP_ARN] = Fn.join(",", [g.target_group_arn for g in application.target_groups])
            for attribute in names.service_outputs(
                registered=application.registration is not None, public=bool(application.target_groups)
            ):
                CfnOutput(self, names.output_key(name, attribute), value=values[attribute])
