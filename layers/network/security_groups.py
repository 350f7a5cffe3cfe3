"""Every security group of the platform and every rule between them.

All groups and rules live in one construct in the network stack: a rule is
declared once, from ``platform_spec.connections.required_paths``, as an ingress on the
destination's group and an egress on the source's. No other construct adds
rules, so none can be missing on one side or managed in two places.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from compliance.security_group_rules import group_description
from platform_spec import HTTPS_PORT, PlatformSpec, ServiceSpec
from platform_spec.connections import (
    ALERTMANAGER,
    DATABASE,
    DATABASE_BOOTSTRAP,
    ENDPOINTS,
    FILE_SYSTEM,
    GRAFANA,
    LOAD_BALANCER,
    PROMETHEUS,
    SMOKE_TESTS,
    NetworkPath,
    enclosed_peers,
    internet_peers,
    peers,
    required_paths,
    service_peer,
)
from platform_spec.names import TARGETS_PROBE


def sealed(scope: Construct, construct_id: str, group: ec2.ISecurityGroup) -> ec2.ISecurityGroup:
    """``group`` as the other stacks use it: attachable, but immutable, so no
    construct outside the network stack (a load balancer target, a grant of
    ``connections``) can add a rule the spec did not declare."""
    return ec2.SecurityGroup.from_security_group_id(
        scope, construct_id, group.security_group_id, mutable=False, allow_all_outbound=False
    )


class PlatformSecurityGroups(Construct):
    """One group per party of ``platform_spec.connections.peers`` and the derived rules."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, spec: PlatformSpec) -> None:
        """``vpc``: the platform's VPC, where every group lives. ``spec``: the platform, whose services,
        observability and network settings decide the parties (``peers``), their paths and which of
        them reach the internet or S3."""
        super().__init__(scope, construct_id)
        self._groups: dict[str, ec2.SecurityGroup] = {
            peer: ec2.SecurityGroup(
                self,
                peer,
                vpc=vpc,
                description=group_description(spec, peer),
                allow_all_outbound=False,
            )
            for peer in peers(spec)
        }
        self.paths: tuple[NetworkPath, ...] = required_paths(spec)
        for path in self.paths:
            self._open(path)
        self._allow_https_out(spec)
        self._admit_cloudfront(spec)

    def _open(self, path: NetworkPath) -> None:
        source, destination = self._groups[path.source], self._groups[path.destination]
        port = ec2.Port.tcp(path.port)
        destination.add_ingress_rule(source, port, path.purpose)
        source.add_egress_rule(destination, port, path.purpose)

    def _allow_https_out(self, spec: PlatformSpec) -> None:
        # Tasks that pull public images or call the internet go out through the NAT;
        # registries and AWS's public endpoints have no fixed addresses.
        for peer in internet_peers(spec):
            self._groups[peer].add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS_PORT), "AWS APIs and image registries over HTTPS"
            )
        # Enclosed tasks reach the interface endpoints (a path of the spec) and S3,
        # for image layers and configuration, through the gateway endpoint.
        for peer in enclosed_peers(spec):
            self._groups[peer].add_egress_rule(
                ec2.Peer.prefix_list(spec.s3_prefix_list),
                ec2.Port.tcp(HTTPS_PORT),
                "S3 through the gateway endpoint",
            )

    def _admit_cloudfront(self, spec: PlatformSpec) -> None:
        # CloudFront's VPC origin reaches the internal load balancer from
        # addresses in its origin-facing prefix list; nothing else may.
        self._groups[LOAD_BALANCER].add_ingress_rule(
            ec2.Peer.prefix_list(spec.origin_facing_prefix_list),
            ec2.Port.tcp(spec.edge.origin_port),
            "CloudFront VPC origin",
        )

    @property
    def load_balancer(self) -> ec2.ISecurityGroup:
        return self._groups[LOAD_BALANCER]

    @property
    def prometheus(self) -> ec2.ISecurityGroup:
        return self._groups[PROMETHEUS]

    @property
    def alertmanager(self) -> ec2.ISecurityGroup:
        return self._groups[ALERTMANAGER]

    @property
    def database(self) -> ec2.ISecurityGroup:
        return self._groups[DATABASE]

    @property
    def file_system(self) -> ec2.ISecurityGroup:
        return self._groups[FILE_SYSTEM]

    @property
    def grafana(self) -> ec2.ISecurityGroup:
        return self._groups[GRAFANA]

    @property
    def targets_probe(self) -> ec2.ISecurityGroup:
        return self._groups[TARGETS_PROBE]

    @property
    def smoke_tests(self) -> ec2.ISecurityGroup:
        return self._groups[SMOKE_TESTS]

    @property
    def database_bootstrap(self) -> ec2.ISecurityGroup:
        return self._groups[DATABASE_BOOTSTRAP]

    @property
    def endpoints(self) -> ec2.ISecurityGroup:
        return self._groups[ENDPOINTS]

    def service(self, service: ServiceSpec) -> ec2.ISecurityGroup:
        return self._groups[service_peer(service)]
