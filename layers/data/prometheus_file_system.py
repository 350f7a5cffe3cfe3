"""The EFS file system that holds Prometheus's TSDB across task replacements."""

from __future__ import annotations

from aws_cdk import ReferenceStrength, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from platform_spec import PrometheusSpec

DATA_DIRECTORY = "/prometheus"


class PrometheusFileSystem(Construct):
    """Encrypted at rest and (by policy) in transit, backed up, with an access
    point that maps every client to the user the Prometheus image runs as."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prometheus: PrometheusSpec,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
    ) -> None:
        """``prometheus``: the spec's Prometheus, whose image's user every client is mapped to and
        who owns the data directory.
        ``vpc``: the platform's VPC, with a mount target in each application subnet. ``security_group``:
        the network stack's file-system group, read strongly (below). ``key``: the data key, which
        encrypts it."""
        super().__init__(scope, construct_id)
        # Its mount targets read the group strongly: they have nothing to carry what replaces it
        # (layers/shared/cross_stack_reads.py), so the network stack may not replace it under them.
        strongly = ec2.SecurityGroup.from_security_group_id(
            self,
            "Group",
            Stack.consume_reference(security_group.security_group_id, ReferenceStrength.STRONG),
            mutable=False,
            allow_all_outbound=False,
        )
        self.file_system = efs.FileSystem(
            self,
            "FileSystem",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_group=strongly,
            encrypted=True,
            kms_key=key,
            enable_automatic_backups=True,
            lifecycle_policy=efs.LifecyclePolicy.AFTER_30_DAYS,
            out_of_infrequent_access_policy=efs.OutOfInfrequentAccessPolicy.AFTER_1_ACCESS,
            performance_mode=efs.PerformanceMode.GENERAL_PURPOSE,
            throughput_mode=efs.ThroughputMode.ELASTIC,
            removal_policy=RemovalPolicy.RETAIN,
            # Only stops CDK from adding a statement that allows any principal;
            # the policy below grants anonymous (non-IAM) clients nothing, so
            # every mount must be IAM-authorized by the client's own role.
            allow_anonymous_access=True,
        )
        self.file_system.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyUnencryptedTransport",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["*"],
                resources=["*"],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )
        user = prometheus.user
        self.access_point = self.file_system.add_access_point(
            "PrometheusData",
            path=DATA_DIRECTORY,
            posix_user=efs.PosixUser(uid=str(user.uid), gid=str(user.gid)),
            create_acl=efs.Acl(owner_uid=str(user.uid), owner_gid=str(user.gid), permissions="0755"),
        )
