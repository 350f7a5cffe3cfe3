"""The two shipped profiles, and everything a platform of one's own renames: the project, the
namespace, the region and its zones, the database, the domain, the CI repositories, the services.
docs/adopting.md walks through each change.

``dev`` reproduces the original platform at the lowest cost that keeps every
capability; ``prod`` differs only where production must (high availability,
longer retention, protection against deletion).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from platform_spec.audit import AuditSpec, VaultLockSpec
from platform_spec.database import DatabaseSpec
from platform_spec.delivery import DeliverySpec
from platform_spec.edge import DomainSpec, EdgeSpec
from platform_spec.network import NetworkSpec
from platform_spec.objectives import ObjectivesSpec
from platform_spec.platform import PlatformSpec
from platform_spec.rollouts import Canary
from platform_spec.schedule import RunSchedule
from platform_spec.services import ServiceSpec
from platform_spec.workloads import GrafanaSpec, PrometheusSpec

PROJECT = "davidshaevel"
NAMESPACE = "davidshaevel.local"
REGION = "us-east-1"
DATABASE_NAME = "davidshaevel"
# The tag the first deploy pushes (docs/operations.md); later images are released by the
# deployment state machine (docs/operations.md, "Releasing an image").
INITIAL_IMAGE_TAG = "initial"
# Zones by id, the same zones in every account: both offer CloudFront VPC origins and
# Graviton (t4g) instances; use1-az3 offers neither. docs/operations.md: "Choosing the zones".
ZONE_IDS = ("use1-az1", "use1-az2")
# The original platform's production site. Its hosted zone's id is the account's own: give it with
# -c hosted_zone_id=... or write it here (docs/operations.md: "Production's domain").
PRODUCTION_DOMAIN = DomainSpec(name="davidshaevel.com", hosted_zone_name="davidshaevel.com", www=True)
# The GitHub repository whose workflows deploy the platform (owner/name, as GitHub spells it), and
# the repositories that build the services' images and start releases themselves (docs/adopting.md).
CI_REPOSITORY = "davidshaevel/davidshaevel-platform"
APPLICATION_REPOSITORIES: tuple[str, ...] = ()


# Requests a reference service answers per CPU-second, instrumented: the frontend's, the dearer of
# the two, measured by `make bench-services` (docs/benchmarks.md, "Services baseline").
MEASURED_REQUESTS_PER_CPU_SECOND = 4109


def requests_per_task(cpu: int) -> int:
    """The load balancer's requests per task per minute autoscaling holds a service of ``cpu`` units
    at: the measured rate for its share of a vCPU, at half (CPU scaling holds tasks at 60 %, and a
    Fargate vCPU may be slower than the machine measured), rounded down to two figures."""
    per_minute = MEASURED_REQUESTS_PER_CPU_SECOND * cpu / 1024 * 60 * 0.5
    scale = 10 ** max(len(str(int(per_minute))) - 2, 0)
    return int(per_minute // scale * scale)


def _services(
    *, cpu: int, memory_mib: int, min_tasks: int, max_tasks: int, ecs_exec: bool, expects_traffic: bool = False
) -> tuple[ServiceSpec, ...]:
    """The original platform's two services, sized per profile; ``expects_traffic``: a ticket when
    one answers nothing for 15 minutes (platform_spec/objectives.py)."""
    sized = partial(
        ServiceSpec,
        cpu=cpu,
        memory_mib=memory_mib,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        ecs_exec=ecs_exec,
        initial_image_tag=INITIAL_IMAGE_TAG,
        scale_at_requests_per_task=requests_per_task(cpu),
    )
    # What the two promise their callers (platform_spec/objectives.py: 99.5 % without a 5xx, 95 %
    # within 0.5 s, over 30 days); a worker promises nothing, and takes none.
    objectives = ObjectivesSpec(expects_traffic=expects_traffic)
    backend = sized(
        name="backend",
        container_name="backend",
        kind="public",
        container_port=3001,
        health_check_path="/api/health",
        metrics_path="/api/metrics",
        route="/api/*",
        uses_database=True,
        objectives=objectives,
    )
    frontend = sized(
        name="frontend",
        container_name="frontend",
        kind="public",
        container_port=3000,
        health_check_path="/api/health",
        metrics_path="/api/metrics",
        route=None,
        calls=("backend",),
        objectives=objectives,
        # Next.js keeps its image and fetch cache here.
        writable_paths=("/tmp", "/app/.next/cache"),
    )
    return (backend, frontend)


# The release: the backend's image migrates (as the migrator), the frontend's runs the smoke tests
# against the backend's API and the public URL (docs/image-contract.md).
DELIVERY = DeliverySpec(
    migrations_service="backend",
    migrate_command=("node", "scripts/run-migrations.js"),
    api_service="backend",
    smoke_test_service="frontend",
    smoke_test_command=("npm", "run", "test:e2e"),
)


def dev() -> PlatformSpec:
    return PlatformSpec(
        project=PROJECT,
        environment="dev",
        account=None,
        region=REGION,
        # One NAT instance: about $7 a month against $36 for a NAT gateway and its address.
        network=NetworkSpec(cidr="10.0.0.0/16", max_azs=2, nat_gateways=1, nat="instance", zone_ids=ZONE_IDS),
        namespace=NAMESPACE,
        services=_services(cpu=256, memory_mib=512, min_tasks=1, max_tasks=2, ecs_exec=True),
        delivery=DELIVERY,
        database=DatabaseSpec(
            database_name=DATABASE_NAME,
            instance_class="t4g.micro",
            backup_retention_days=7,
            multi_az=False,
            deletion_protection=False,
        ),
        prometheus=PrometheusSpec(retention_days=15, ecs_exec=True),
        grafana=GrafanaSpec(),
        edge=EdgeSpec(managed_rules=False),
        fargate_spot=True,
        production=False,
        log_retention_days=30,
        access_log_retention_days=90,
        backup_retention_days=7,
        # dev can be torn down: a lock whoever may remove it can remove (docs/security.md).
        backup_lock=VaultLockSpec(mode="governance"),
        # The shipped CI set-up shares one account between dev and prod, whose GuardDuty detector
        # covers it (one per account and region); in an account of its own, dev makes its own.
        audit=AuditSpec(mode="platform", log_lock_days=30, detector=False),
        images_kept=10,
        # Used on working days: asleep outside 08:00-19:00 New York time, the database and the NAT
        # instance stopped, every task at zero, the alarms that sleep trips muted (docs/cost.md).
        schedule=RunSchedule(time_zone="America/New_York"),
        # Every capability at the lowest cost, averaged over a week with the schedule (docs/cost.md);
        # make cost and the tests hold it.
        monthly_budget_usd=55,
    )


def prod() -> PlatformSpec:
    return PlatformSpec(
        project=PROJECT,
        environment="prod",
        account=None,
        region=REGION,
        # Interface endpoints (ECR twice, CloudWatch Logs; about $44 a month over two zones)
        # let the application tasks' egress end at the endpoints and S3.
        network=NetworkSpec(cidr="10.1.0.0/16", max_azs=2, nat_gateways=2, zone_ids=ZONE_IDS, interface_endpoints=True),
        namespace=NAMESPACE,
        services=_services(cpu=512, memory_mib=1024, min_tasks=2, max_tasks=6, ecs_exec=False, expects_traffic=True),
        delivery=DELIVERY,
        database=DatabaseSpec(
            database_name=DATABASE_NAME,
            instance_class="m7g.large",
            allocated_storage_gib=50,
            max_allocated_storage_gib=500,
            backup_retention_days=30,
            multi_az=True,
            deletion_protection=True,
            max_connections_alarm=700,
        ),
        prometheus=PrometheusSpec(retention_days=30, cpu=1024, memory_mib=2048),
        # As in dev: nobody reaches it until allowed_cidrs names the operators' addresses.
        grafana=GrafanaSpec(),
        edge=EdgeSpec(managed_rules=True, domain=PRODUCTION_DOMAIN),
        # A tenth of the traffic to a release for 5 minutes, then all of it, the previous tasks kept
        # 10 minutes more; an alarm from the objectives rolls it back (platform_spec/rollouts.py).
        default_rollout=Canary(percent=10, canary_minutes=5, bake_minutes=10),
        fargate_spot=False,
        production=True,
        log_retention_days=365,
        access_log_retention_days=365,
        backup_retention_days=35,
        # Permanent a week after the first deploy: nobody, root included, deletes a backup early.
        backup_lock=VaultLockSpec(mode="compliance", changeable_for_days=7, max_retention_days=365),
        audit=AuditSpec(mode="platform", log_lock_days=365),
        images_kept=50,
    )


PROFILES: dict[str, Callable[[], PlatformSpec]] = {"dev": dev, "prod": prod}
DEFAULT_PROFILE = "dev"
