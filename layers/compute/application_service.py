"""One application service of the spec on Fargate, from image to autoscaling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from constructs import Construct

from compliance.nag_findings import acknowledge_ecr_pull, acknowledge_ecs_exec
from layers.compute.app_settings import ecs_secrets
from layers.compute.cloud_map_registration import CloudMapRegistration
from layers.compute.deployment_alarms import Caller, DeploymentAlarms
from layers.compute.request_scaling import scale_on_requests
from layers.compute.service_route import ListenerRoute, ServiceRoute
from layers.compute.wake_on_demand import wake_on_demand
from layers.data.postgres_database import PostgresDatabase
from layers.shared.database_access import database_environment, grant_database_access
from layers.shared.fargate import (
    ROLLING,
    Placement,
    container_health_check,
    linux_task_definition,
    private_fargate_service,
)
from layers.shared.log_groups import Logging
from layers.shared.workload_containers import Container, WorkloadContainers
from platform_spec import ServiceSpec
from platform_spec.health_checks import health_check_command
from platform_spec.rollouts import Rollout


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
        rollout: Rollout,
        placement: Placement,
        image: ecs.ContainerImage,
        route: ListenerRoute,
        callee_urls: Mapping[str, str],
        database: PostgresDatabase | None,
        logging: Logging,
    ) -> None:
        """``service``: what to run, from the spec. ``rollout``: how a release reaches its traffic
        (``PlatformSpec.rollout_of``). ``placement``: the cluster, the service's own
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
            strategy=rollout,
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
        self.route = (
            ServiceRoute(
                self,
                "Route",
                service=service,
                shifts=rollout.shifts_traffic,
                fargate=self.service,
                vpc=self.service.cluster.vpc,
                route=route,
            )
            if service.is_public
            else None
        )
        """Its target groups and listener rule, where it is public."""
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
            architecture=service.architecture,
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
        self.scaling = self.service.auto_scale_task_count(
            min_capacity=service.min_tasks, max_capacity=service.max_tasks
        )
        """Its scalable task count, from ``min_tasks`` to ``max_tasks``: held at ``scale_at_cpu_percent``
        CPU and, where public, ``scale_at_requests_per_task`` requests per task; with ``min_tasks = 0``,
        woken by a request and put back to none when idle (``layers/compute/wake_on_demand.py``). Add
        further policies or scheduled actions to it (``scale_on_schedule``); they act within those bounds."""
        self.scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=service.scale_at_cpu_percent)
        if self.route is not None:
            groups = self.route.target_groups
            scale_on_requests(self.scaling, groups, requests_per_task=service.scale_at_requests_per_task)
            if service.min_tasks == 0:
                wake_on_demand(self.scaling, groups, service_name=service.name, idle_minutes=service.idle_minutes)

    def roll_back_on_alarms(
        self, *, load_balancer: elbv2.ApplicationLoadBalancer, callers: Sequence[Caller]
    ) -> DeploymentAlarms | None:
        """Its deployment alarms (``layers/compute/deployment_alarms.py``), from its objectives, on
        its own target groups and its public ``callers``'; any of them rolls a deployment back."""
        if self.spec.objectives is None:
            return None
        alarms = DeploymentAlarms(
            self,
            "DeploymentAlarms",
            service=self.spec,
            objectives=self.spec.objectives,
            target_groups=self.target_groups,
            load_balancer=load_balancer,
            callers=callers,
        )
        if alarms.alarms:
            self.service.enable_deployment_alarms(alarms.alarm_names, behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM)
        return alarms

    @property
    def target_groups(self) -> tuple[elbv2.ApplicationTargetGroup, ...]:
        """Its load-balancer target groups, where it is public: two where its roll-out shifts traffic."""
        return self.route.target_groups if self.route is not None else ()
