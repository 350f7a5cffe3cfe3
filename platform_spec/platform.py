"""The whole platform for one environment: every part, and the names derived from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from platform_spec.audit import AuditSpec, BackupCopySpec, VaultLockSpec, check_record
from platform_spec.checks import (
    ACCOUNT_PATTERN,
    DNS_LABEL_PATTERN,
    EMAIL_PATTERN,
    NAMESPACE_PATTERN,
    PROJECT_NAME_PATTERN,
    REGION_PATTERN,
    check_log_retention,
)
from platform_spec.database import (
    DatabaseSpec,
)
from platform_spec.delivery import DeliverySpec, check_release_budget, release_minutes, update_minutes
from platform_spec.edge import (
    EdgeSpec,
)
from platform_spec.errors import SpecError
from platform_spec.names import EDGE, LAYERS, release_state_machine_name, stack_name, stack_prefix
from platform_spec.network import (
    NetworkSpec,
)
from platform_spec.profile_checks import check_placement, check_production
from platform_spec.regions import (
    CLOUDFRONT_REGION,
    ORIGIN_FACING_PREFIX_LISTS,
    S3_PREFIX_LISTS,
)
from platform_spec.rollouts import ROLLING, Rollout, check_rollout
from platform_spec.schedule import RunSchedule
from platform_spec.service_checks import check_services
from platform_spec.services import ServiceSpec
from platform_spec.workloads import (
    AlertmanagerSpec,
    GrafanaSpec,
    HelperImagesSpec,
    ImageMirrorSpec,
    PrometheusSpec,
)


@dataclass(frozen=True, kw_only=True)
class PlatformSpec:
    """The whole platform for one environment (a profile)."""

    project: str
    """Project name: the second part of every stack name (``davidshaevel``)."""
    environment: str
    """Environment name: the first part of every stack name (``dev``)."""
    account: str | None
    """AWS account to pin the stacks to; ``None`` keeps them environment-agnostic."""
    region: str
    """AWS region of the stacks. Needed at synth: load balancer access logging, the prefix lists
    the security groups name and where CloudFront's pieces go depend on it. No lookup is made
    with it. Outside us-east-1, CloudFront's certificate, web ACL and edge function go to a
    small stack there (``PlatformSpec.layers``)."""
    network: NetworkSpec
    namespace: str
    """Cloud Map private DNS namespace (``davidshaevel.local``)."""
    services: tuple[ServiceSpec, ...]
    delivery: DeliverySpec
    """Which services the release migrates with and smoke-tests, and the commands."""
    database: DatabaseSpec = field(default_factory=DatabaseSpec)
    prometheus: PrometheusSpec = field(default_factory=PrometheusSpec)
    alertmanager: AlertmanagerSpec = field(default_factory=AlertmanagerSpec)
    grafana: GrafanaSpec | None = None
    """Grafana, or ``None`` to run without it."""
    helper_images: HelperImagesSpec = field(default_factory=HelperImagesSpec)
    image_mirror: ImageMirrorSpec = field(default_factory=ImageMirrorSpec)
    """The registries ECR's pull-through cache copies third-party images from (the data stack)."""
    alarm_email: str | None = None
    """Address subscribed to the alarm topic; ``None`` leaves subscriptions to the operator."""
    edge: EdgeSpec = field(default_factory=EdgeSpec)
    fargate_spot: bool = False
    """Run application tasks on Fargate Spot (interruptible, about 70% cheaper)."""
    production: bool = False
    """Production profiles must keep data safe: Multi-AZ, deletion protection, NAT per zone."""
    log_retention_days: int = 30
    """How long CloudWatch keeps the platform's logs."""
    access_log_retention_days: int = 90
    """How long the log bucket keeps load balancer, CloudFront and S3 access logs."""
    backup_retention_days: int = 7
    """How long AWS Backup keeps each daily backup of the database and file system."""
    backup_lock: VaultLockSpec = field(default_factory=VaultLockSpec)
    backup_copy: BackupCopySpec | None = None
    """A copy of each backup in another region's or account's vault; ``None``: none."""
    audit: AuditSpec = field(default_factory=AuditSpec)
    images_kept: int = 10
    """Unreleased images each ECR repository keeps; older ones expire."""
    releases_kept: int = 10
    """Marked images (``release-...``) each repository keeps at most. The release keeps marked
    only what runs, what a roll-back returns to and, while it runs, the image it releases (3);
    the rest is room for the marks of releases stopped before they tidied them. None expires."""
    default_rollout: Rollout = ROLLING
    """How a release reaches a public service's traffic unless its spec names a roll-out
    (``platform_spec/rollouts.py``): the shipped profiles roll dev and canary prod."""
    schedule: RunSchedule | None = None
    """When the environment runs; outside it, it sleeps (``platform_spec/schedule.py``). ``None``:
    all week, as production must."""
    monthly_budget_usd: float | None = None
    """The fixed monthly cost at list prices (``make cost``) the profile should stay within; the
    tests hold it. ``None``: no budget."""

    def __post_init__(self) -> None:
        if not isinstance(self.project, str) or not PROJECT_NAME_PATTERN.match(self.project):
            raise SpecError(
                "project",
                self.project,
                "must be 3-32 lowercase letters, digits or '-', starting with a letter",
            )
        if (
            not isinstance(self.environment, str)
            or not DNS_LABEL_PATTERN.match(self.environment)
            or len(self.environment) > 16
        ):
            raise SpecError(
                "environment",
                self.environment,
                "must be up to 16 lowercase letters, digits or '-', starting with a letter",
            )
        if self.account is not None and not ACCOUNT_PATTERN.match(self.account):
            raise SpecError("account", self.account, "must be a 12-digit AWS account id")
        if not isinstance(self.region, str) or not REGION_PATTERN.match(self.region):
            raise SpecError("region", self.region, "not an AWS region name")
        if not isinstance(self.namespace, str) or not NAMESPACE_PATTERN.match(self.namespace):
            raise SpecError("namespace", self.namespace, "must be a DNS name such as 'example.local'")
        check_log_retention("log_retention_days", self.log_retention_days)
        if not 1 <= self.access_log_retention_days <= 3650:
            raise SpecError("access_log_retention_days", self.access_log_retention_days, "must be from 1 to 3650")
        if not 1 <= self.backup_retention_days <= 3650:
            raise SpecError("backup_retention_days", self.backup_retention_days, "must be from 1 to 3650")
        if not 1 <= self.images_kept <= 1000:
            raise SpecError("images_kept", self.images_kept, "must be from 1 to 1000")
        if not 3 <= self.releases_kept <= 1000:
            raise SpecError(
                "releases_kept",
                self.releases_kept,
                "must be from 3 to 1000 (what runs, one to roll back to, one being released)",
            )
        if self.monthly_budget_usd is not None and not 0 < self.monthly_budget_usd <= 1_000_000:
            raise SpecError("monthly_budget_usd", self.monthly_budget_usd, "must be above 0 (US dollars a month)")
        check_placement(self)
        check_record(self)
        if self.alarm_email is not None and not EMAIL_PATTERN.match(self.alarm_email):
            raise SpecError("alarm_email", self.alarm_email, "not an email address")
        check_rollout("default_rollout", self.default_rollout, public=True)
        check_services(self)
        self.image_mirror.check_prefixes(self.stack_prefix)
        check_release_budget(self.delivery, self.update_minutes)
        if self.production:
            check_production(self)

    @property
    def update_minutes(self) -> int:
        """The longest an update of the compute stack may take (``delivery.update_minutes``)."""
        return update_minutes(tuple(self.rollout_of(s) for s in self.services))

    def rollout_of(self, service: ServiceSpec) -> Rollout:
        """How a release reaches the service's traffic: its own roll-out, or the profile's default
        where the load balancer can shift its traffic (a public service), rolling elsewhere."""
        if service.rollout is not None:
            return service.rollout
        return self.default_rollout if service.is_public else ROLLING

    @property
    def update_polls(self) -> int:
        """Checks of an update before the release counts it as stuck: ``update_minutes`` of them."""
        return self.delivery.polls(self.update_minutes)

    @property
    def release_timeout_minutes(self) -> int:
        """The longest a release may take: the profile's bound, or what its roll-outs need."""
        return self.delivery.release_timeout_minutes or release_minutes(self.delivery, self.update_minutes)

    @property
    def stack_prefix(self) -> str:
        """``dev-davidshaevel``: the original platform's naming, shared by stacks and resources."""
        return stack_prefix(self.environment, self.project)

    def stack_name(self, layer: str) -> str:
        """``dev-davidshaevel-compute``: this profile's stack of ``layer`` (``platform_spec.names.LAYERS``)."""
        return stack_name(self.stack_prefix, layer)

    @property
    def release_state_machine_name(self) -> str:
        """``dev-davidshaevel-release``: see ``platform_spec.names.release_state_machine_name``."""
        return release_state_machine_name(self.stack_prefix)

    @property
    def database_identifier(self) -> str:
        """``dev-davidshaevel-postgres``: the RDS instance's fixed name, which alarms name literally."""
        return f"{self.stack_prefix}-postgres"

    def config_bucket_name(self, account: str) -> str:
        """``dev-davidshaevel-config-<account>-<region>``: the configuration bucket, named (bucket
        names are global, hence the account) so the network stack's S3 endpoint policy can name
        it. ``account`` is the spec's, or the deploy's (``Aws.ACCOUNT_ID``) when it names none."""
        return f"{self.stack_prefix}-config-{self.account or account}-{self.region}"

    @property
    def cluster_name(self) -> str:
        """``dev-davidshaevel-cluster``, as in the original platform. A fixed name, so the stacks that run
        tasks in it and the verify command name it literally instead of reading an output."""
        return f"{self.stack_prefix}-cluster"

    @property
    def exec_log_group_name(self) -> str:
        """Where ECS Exec sessions are logged. A fixed name, kept in the data stack, so every
        stack can name it literally and task-role policies read the same in each."""
        return f"/{self.project}/{self.environment}/ecs-exec-sessions"

    @property
    def prometheus_url(self) -> str:
        """How Grafana and one-off tasks reach Prometheus: its Cloud Map name and port."""
        return f"http://{self.prometheus.name}.{self.namespace}:{self.prometheus.port}"

    def edge_internal_paths(self) -> tuple[str, ...]:
        """Paths the edge answers 404 to: every public service's metrics path and its internal
        paths (a path ending in ``/*``, everything under it)."""
        paths = [p for s in self.public_services for p in (s.metrics_path, *s.internal_paths) if p is not None]
        return tuple(dict.fromkeys(paths))

    def service_url(self, service: ServiceSpec) -> str:
        """How other tasks call the service: its Cloud Map name and container port."""
        return f"http://{self.dns_name(service)}:{service.port}"

    @property
    def public_services(self) -> tuple[ServiceSpec, ...]:
        """The services behind the load balancer and the edge."""
        return tuple(s for s in self.services if s.is_public)

    @property
    def scraped_services(self) -> tuple[ServiceSpec, ...]:
        """The services Prometheus discovers and scrapes."""
        return tuple(s for s in self.services if s.scraped)

    @property
    def registered_services(self) -> tuple[ServiceSpec, ...]:
        """The services with a Cloud Map registration (A and SRV): those with a port."""
        return tuple(s for s in self.services if s.has_port)

    @property
    def origin_facing_prefix_list(self) -> str:
        """CloudFront's origin-facing prefix list in the region: the spec's, or the known id."""
        return self.edge.origin_facing_prefix_list or ORIGIN_FACING_PREFIX_LISTS[self.region]

    @property
    def s3_prefix_list(self) -> str:
        """The region's S3 prefix list, for the enclosed tasks' egress through the gateway endpoint."""
        if self.network.s3_prefix_list is not None:
            return self.network.s3_prefix_list
        if self.region not in S3_PREFIX_LISTS:
            raise ValueError(f"no S3 prefix list is known for {self.region}: name it in network.s3_prefix_list")
        return S3_PREFIX_LISTS[self.region]

    @property
    def edge_in_own_stack(self) -> bool:
        """CloudFront's certificate, web ACL and edge function are in a stack of their own in
        us-east-1, because the platform's stacks are elsewhere."""
        return self.region != CLOUDFRONT_REGION

    @property
    def layers(self) -> tuple[str, ...]:
        """This profile's stacks, in the order they deploy: ``names.LAYERS``, after the edge's own
        stack where the platform is outside us-east-1."""
        return ((EDGE,) if self.edge_in_own_stack else ()) + LAYERS

    def service(self, name: str) -> ServiceSpec:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def database_users(self) -> tuple[str, ...]:
        """The services' own database users (IAM authentication, data rights in the schema)."""
        return tuple(s.database_user for s in self.services if s.uses_database)

    def dns_name(self, service: ServiceSpec) -> str:
        """The Cloud Map name other tasks resolve (``backend.davidshaevel.local``)."""
        return f"{service.name}.{self.namespace}"
