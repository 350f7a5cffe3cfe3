"""Grafana on Fargate, served under a sub-path through the load balancer and CloudFront."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from compliance.nag_findings import acknowledge_ecs_exec
from layers.compute.handles import PublicEntry
from layers.data.admin_password import AdminPassword
from layers.observability.config_object import StoredConfig
from layers.shared.fargate import (
    Placement,
    TaskReplacement,
    linux_task_definition,
    private_fargate_service,
    wget_health_check,
)
from layers.shared.log_groups import Logging
from layers.shared.mirrored_images import ThirdPartyImages
from layers.shared.secret_access import grant_secret_read
from layers.shared.workload_containers import Container, S3Copy, WorkloadContainers
from platform_spec import GrafanaSpec

PROVISIONING_DIRECTORY = "/etc/grafana/provisioning"
PROVISIONING_VOLUME = "provisioning"
# Grafana's database and plugins live here; provisioning rebuilds everything we
# manage on each start, so the data can go with the task.
WRITABLE_PATHS = ("/var/lib/grafana", "/tmp")
# Evaluated before every service route: /grafana/* must never reach a service.
ROUTE_PRIORITY = 1


def grafana_environment(grafana: GrafanaSpec, *, public_hosts: Sequence[str]) -> dict[str, str]:
    """Grafana's server settings for being reached at ``https://<public_hosts[0]><route>/``.

    CloudFront forwards the browser's ``Origin`` (``https://<public host>``) but sends the
    origin's name (the load balancer's, or ``origin.<domain>``) as ``Host``, and Grafana refuses
    a cookie-authenticated request whose Origin host is neither the Host nor a trusted origin
    ("origin not allowed", grafana/grafana#46321; the check is pkg/middleware/csrf/csrf.go).
    Trusting exactly the public hosts (space-separated, as Grafana's ``csrf_trusted_origins``
    takes them) keeps the check on for everything else.

    Viewers reach it only over HTTPS, so the session cookie is ``Secure`` and ``SameSite=Strict``;
    Gravatar would send each user's e-mail hash to a third party. Grafana locks a user name out
    after repeated failed sign-ins unless ``disable_brute_force_login_protection`` is true (its
    configuration docs, ``[security]``): stated here so no default change turns it off. Locking
    by address stays off (Grafana's default): every request arrives from the load balancer."""
    return {
        "GF_SERVER_HTTP_PORT": str(grafana.port),
        "GF_SERVER_ROOT_URL": f"https://{public_hosts[0]}{grafana.route}/",
        "GF_SERVER_SERVE_FROM_SUB_PATH": "true",
        "GF_SECURITY_CSRF_TRUSTED_ORIGINS": " ".join(public_hosts),
        "GF_SECURITY_COOKIE_SECURE": "true",
        "GF_SECURITY_COOKIE_SAMESITE": "strict",
        "GF_SECURITY_DISABLE_GRAVATAR": "true",
        "GF_SECURITY_DISABLE_BRUTE_FORCE_LOGIN_PROTECTION": "false",
        "GF_SECURITY_DISABLE_USERNAME_LOGIN_PROTECTION": "false",
        "GF_PATHS_PROVISIONING": PROVISIONING_DIRECTORY,
        "GF_SECURITY_ADMIN_USER": "admin",
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
    }


class GrafanaServer(Construct):
    """Grafana with the data stack's generated admin password, Prometheus as its provisioned
    data source and the platform's dashboard, copied from S3 by an init
    container like Prometheus's configuration."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        grafana: GrafanaSpec,
        images: ThirdPartyImages,
        placement: Placement,
        entry: PublicEntry,
        admin_password: AdminPassword,
        provisioning: StoredConfig,
        logging: Logging,
    ) -> None:
        """``grafana``: what to run, from the spec. ``images``: its image, the volume owner and the
        configuration loader, as its tasks pull them. ``placement``: the cluster and Grafana's security group.
        ``entry``: the listener its route is added to, and the public host names it answers
        for. ``admin_password``: the data stack's generated secret. ``provisioning``: the
        rendered data source and dashboards, in the configuration bucket. ``logging``: its
        log group's key and retention."""
        super().__init__(scope, construct_id)
        self.task_definition = linux_task_definition(
            self,
            "Task",
            cpu=grafana.cpu,
            memory_mib=grafana.memory_mib,
            volumes=[ecs.Volume(name=PROVISIONING_VOLUME)],
        )
        containers = WorkloadContainers(
            self,
            "Containers",
            task_definition=self.task_definition,
            ecs_exec=grafana.ecs_exec,
            volume_owner_image=images.volume_owner,
            log_group=logging.log_group(self, "Logs"),
        )
        loader = containers.add_s3_copy(
            "ProvisioningLoader",
            S3Copy(
                container_name="provisioning-loader",
                image=images.config_loader,
                source=provisioning.url,
                volume=PROVISIONING_VOLUME,
                mount_path="/provisioning",
            ),
        )
        self.container = containers.add(
            "Grafana",
            Container(
                name=grafana.name,
                image=images.image(grafana.image),
                user=grafana.user,
                port=grafana.port,
                environment=grafana_environment(grafana, public_hosts=entry.public_hosts),
                secrets={"GF_SECURITY_ADMIN_PASSWORD": ecs.Secret.from_secrets_manager(admin_password.secret)},
                health_check=wget_health_check(grafana.port, grafana.health_check_path),
                # Its start script creates the plugins directory under the data path and
                # exits when it cannot (packaging/docker/run.sh in grafana/grafana).
                writable_paths=WRITABLE_PATHS,
                mount_points=[
                    ecs.MountPoint(
                        container_path=PROVISIONING_DIRECTORY, source_volume=PROVISIONING_VOLUME, read_only=True
                    )
                ],
            ),
        )
        containers.start_after(self.container, loader)
        grant_secret_read(
            self.task_definition.obtain_execution_role(), secret=admin_password.secret, key=provisioning.source.key
        )
        provisioning.grant_read(self.task_definition.task_role)
        self.service = private_fargate_service(
            self,
            "Service",
            placement=placement,
            task_definition=self.task_definition,
            ecs_exec=grafana.ecs_exec,
            rollout=TaskReplacement(min_healthy_percent=0, max_healthy_percent=200),
            desired_count=1,
            health_check_grace_period=Duration.seconds(120),
        )
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=placement.cluster.vpc,
            port=grafana.port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(path=grafana.health_check_path, healthy_http_codes="200"),
        )
        provisioning.written_before(self.service)
        self.service.attach_to_application_target_group(self.target_group)
        elbv2.ApplicationListenerRule(
            self,
            "Route",
            listener=entry.listener,
            priority=ROUTE_PRIORITY,
            conditions=[elbv2.ListenerCondition.path_patterns([grafana.route, grafana.route_pattern])],
            action=elbv2.ListenerAction.forward([self.target_group]),
        )
        self._acknowledge()
        if grafana.ecs_exec:
            acknowledge_ecs_exec(self.task_definition, placement.exec_log_group)

    def _acknowledge(self) -> None:
        Validations.of(self.task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-ECS2",
                reason="The environment holds Grafana's non-secret server settings; the admin password "
                "arrives as an ECS secret.",
            )
        )
