"""One application service of the spec on Fargate, from image to autoscaling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.cloud_map_registration import CloudMapRegistration
from cdk_constructs.postgres_database import PostgresDatabase
from cdk_constructs.workload_containers import Container, WorkloadContainers
from cdk_helpers.app_settings import ecs_secrets
from cdk_helpers.database_access import database_environment, grant_database_access
from cdk_helpers.fargate import (
    ARCHITECTURES,
    ROLLING,
    Placement,
    container_health_check,
    linux_task_definition,
    private_fargate_service,
)
from cdk_helpers.log_groups import Logging
from compliance.nag_findings import acknowledge_ecr_pull, acknowledge_ecs_exec
from platform_spec import ServiceSpec
from platform_spec.health_checks import health_check_command


def service_health_check(service: ServiceSpec) -> ecs.HealthCheck | None:
    """The container health check the spec says the image can run (``platform_spec.health_checks``)."""
    command = health_check_command(service)
    return container_health_check(*command) if command else None


def service_environment(service: ServiceSpec, callee_urls: Mapping[str, str]) -> dict[str, str]:
    """What the platform tells the app (its port and paths, the URLs of what it calls), then the
    service's own settings. The reference services read these, so a changed port or path in the
    spec needs no change in the image."""
    platform = {
        "PORT": str(service.container_port) if service.container_port is not None else None,
        "HEALTH_CHECK_PATH": service.health_check_path,
        "METRICS_PATH": service.metrics_path if service.scraped else None,
    }
    return {
        **{name: value for name, value in platform.items() if value is not None},
        **callee_urls,
        **service.settings,
    }


@dataclass(frozen=True)
class ListenerRoute:
    """Where the load balancer's listener sends a service: ``priority`` orders its path rule."""

    listener: elbv2.ApplicationListener
    priority: int


class ApplicationService(Construct):
    """Task definition, container, Fargate service, Cloud Map registration (where it has a
    port), target group and route (where it is public), and autoscaling: everything about one
    service of the spec, all derived from its ``ServiceSpec``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: ServiceSpec,
        placement: Placement,
        image: ecs.ContainerImage,
        route: ListenerRoute,
        callee_urls: Mapping[str, str],
        database: PostgresDatabase | None,
        logging: Logging,
    ) -> None:
        """``service``: what to run, from the spec. ``placement``: the cluster, the service's own
        security group and the namespace it registers in. ``image``: the released image.
        ``route``: the listener and the priority of its path rule, for a public service. ``callee_urls``: the
        environment that names each service it calls. ``database``: the database, when the
        service uses one (it connects as its own user, with IAM). ``logging``: its log group's
        key and retention."""
        super().__init__(scope, construct_id)
        self.spec = service
        self.log_group = logging.log_group(self, "Logs")
        self.task_definition = self._build_task_definition(service)
        self.container = self._build_container(service, image=image, callee_urls=callee_urls, database=database)
        # No desired_count: CloudFormation then leaves the running count to
        # autoscaling, and a deploy never resets it.
        self.service = private_fargate_service(
            self,
            "Service",
            placement=placement,
            task_definition=self.task_definition,
            ecs_exec=service.ecs_exec,
            rollout=ROLLING,
            health_check_grace_period=Duration.seconds(60),
        )
        self.registration: CloudMapRegistration | None = None
        """Its name in Cloud Map (A and SRV), where it has a port: how callers and Prometheus find it."""
        if service.container_port is not None:
            self.registration = CloudMapRegistration(
                self,
                "Discovery",
                namespace=placement.registering_in(),
                name=service.name,
                service=self.service,
                container=self.container,
                container_port=service.container_port,
            )
        self.target_group = self._route(service, route) if service.is_public else None
        """Its load-balancer target group, where it is public."""
        self._autoscale(service)
        if database is not None:
            grant_database_access(self.task_definition, database, user=service.database_user)
        self._acknowledge(service, placement.exec_log_group)

    def _build_task_definition(self, service: ServiceSpec) -> ecs.FargateTaskDefinition:
        return linux_task_definition(
            self,
            "Task",
            cpu=service.cpu,
            memory_mib=service.memory_mib,
            architecture=ARCHITECTURES[service.architecture],
        )

    def _build_container(
        self,
        service: ServiceSpec,
        *,
        image: ecs.ContainerImage,
        callee_urls: Mapping[str, str],
        database: PostgresDatabase | None,
    ) -> ecs.ContainerDefinition:
        environment = service_environment(service, callee_urls)
        if database is not None:
            environment.update(database_environment(database, user=service.database_user))
        containers = WorkloadContainers(
            self,
            "Containers",
            task_definition=self.task_definition,
            ecs_exec=service.ecs_exec,
            # The app's own image hands its writable paths over: no other registry to reach.
            volume_owner_image=image,
            log_group=self.log_group,
        )
        return containers.add(
            "App",
            Container(
                name=service.container_name,
                image=image,
                user=service.run_as,
                port=service.container_port,
                environment=environment,
                secrets=ecs_secrets(self, service.secrets, execution_role=self.task_definition.obtain_execution_role()),
                health_check=service_health_check(service),
                writable_paths=service.writable_paths,
            ),
        )

    def _route(self, service: ServiceSpec, route: ListenerRoute) -> elbv2.ApplicationTargetGroup:
        target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=self.service.cluster.vpc,
            port=service.port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=service.health_check_path,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        self.service.attach_to_application_target_group(target_group)
        if service.route is None:
            route.listener.add_target_groups(f"{service.name}-default", target_groups=[target_group])
        else:
            route.listener.add_target_groups(
                f"{service.name}-route",
                target_groups=[target_group],
                priority=route.priority,
                conditions=[elbv2.ListenerCondition.path_patterns([service.route])],
            )
        return target_group

    def _acknowledge(self, service: ServiceSpec, exec_log_group: logs.ILogGroup) -> None:
        Validations.of(self.task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-ECS2",
                reason="The environment holds only what the spec declares plain: the port and paths, the URLs "
                "of called services, database host, name and user, and the service's own settings; its secrets "
                "arrive as ECS secrets, and the database takes an IAM token, no password.",
            )
        )
        acknowledge_ecr_pull(self.task_definition)
        if service.ecs_exec:
            acknowledge_ecs_exec(self.task_definition, exec_log_group)

    def _autoscale(self, service: ServiceSpec) -> None:
        scaling = self.service.auto_scale_task_count(min_capacity=service.min_tasks, max_capacity=service.max_tasks)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=service.scale_at_cpu_percent)
        if self.target_group is not None:
            scaling.scale_on_request_count(
                "Requests", requests_per_target=service.scale_at_requests_per_task, target_group=self.target_group
            )
