"""Registering an ECS service in Cloud Map with A and SRV records."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from platform_spec import CLOUD_MAP_TTL_SECONDS

# The spec's, since a new task's worst wait for its first scrape counts it (platform_spec/prometheus.py).


class CloudMapRegistration(Construct):
    """``<name>.<namespace>`` answering A records (each task's address) and SRV
    records (address and container port), multivalue, with the spec's short TTL
    (``CLOUD_MAP_TTL_SECONDS``) so that replaced tasks drop out of DNS quickly and
    new ones are scraped soon.

    A registration cannot be changed safely in place: ECS keeps a service's
    original registry, and Cloud Map refuses to delete a service that still has
    instances. Changing the name, records or port therefore has to replace the
    ECS service together with its Cloud Map service, which is why no ECS
    service of this project sets a fixed name (a fixed name blocks replacement).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace: servicediscovery.IPrivateDnsNamespace,
        name: str,
        service: ecs.BaseService,
        container: ecs.ContainerDefinition,
        container_port: int,
    ) -> None:
        """``namespace``: the platform's private namespace (the compute stack's). ``name``: the DNS
        label, the spec's service name (an application service, ``prometheus`` or ``alertmanager``).
        ``service``: the ECS service whose tasks register. ``container``: the container whose port the
        SRV records give. ``container_port``: that port, the spec's."""
        super().__init__(scope, construct_id)
        self.cloud_map_service = servicediscovery.Service(
            self,
            "Service",
            namespace=namespace,
            name=name,
            dns_record_type=servicediscovery.DnsRecordType.SRV,
            dns_ttl=Duration.seconds(CLOUD_MAP_TTL_SECONDS),
            routing_policy=servicediscovery.RoutingPolicy.MULTIVALUE,
            custom_health_check=servicediscovery.HealthCheckCustomConfig(failure_threshold=1),
        )
        # The L2 takes one record type; the original platform's discovery needs both.
        cfn = self.cloud_map_service.node.default_child
        assert isinstance(cfn, servicediscovery.CfnService)
        ttl = CLOUD_MAP_TTL_SECONDS
        cfn.add_property_override("DnsConfig.DnsRecords", [{"Type": "A", "TTL": ttl}, {"Type": "SRV", "TTL": ttl}])
        service.associate_cloud_map_service(
            service=self.cloud_map_service, container=container, container_port=container_port
        )
