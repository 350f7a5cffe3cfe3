"""The internal Application Load Balancer that CloudFront reaches through a VPC origin."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from layers.data.access_log_bucket import LOAD_BALANCER_PREFIX

# TLS 1.3 and 1.2 only, forward-secret ciphers (Elastic Load Balancing guide, "Security policies
# for your Application Load Balancer"): ELBSecurityPolicy-TLS13-1-2-2021-06.
ORIGIN_TLS_POLICY = elbv2.SslPolicy.RECOMMENDED_TLS


class InternalLoadBalancer(Construct):
    """An ALB in the application subnets with no public address. Its security
    group admits only CloudFront's origin-facing addresses (network stack), so
    the only way in is through the distribution. With a certificate (the platform's
    own domain) its one listener serves HTTPS with TLS 1.2 or newer; without one,
    plain HTTP inside the VPC."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        port: int,
        certificate: acm.ICertificate | None,
        access_logs: s3.IBucket,
        deletion_protection: bool,
    ) -> None:
        """``vpc``: the platform's VPC. ``security_group``: the network stack's sealed load-balancer
        group. ``port``: the listener's (``EdgeSpec.origin_port``). ``certificate``: the origin name's
        (``SiteDomain``), or None without a domain: plain HTTP. ``access_logs``: the data stack's
        access log bucket. ``deletion_protection``: on in production (``spec.production``)."""
        super().__init__(scope, construct_id)
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_group=security_group,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
            idle_timeout=Duration.seconds(60),
        )
        # The bucket's policy (data stack) admits the log delivery; CDK's log_access_logs would
        # add statements of its own, for a principal ALBs in this region do not use.
        for key, value in (
            ("access_logs.s3.enabled", "true"),
            ("access_logs.s3.bucket", access_logs.bucket_name),
            ("access_logs.s3.prefix", LOAD_BALANCER_PREFIX),
        ):
            self.load_balancer.set_attribute(key, value)
        if certificate is None:
            self.listener = self.load_balancer.add_listener(
                "Origin", port=port, protocol=elbv2.ApplicationProtocol.HTTP, open=False
            )
        else:
            self.listener = self.load_balancer.add_listener(
                "Origin",
                port=port,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_certificate_manager(certificate)],
                ssl_policy=ORIGIN_TLS_POLICY,
                open=False,
            )
        self._acknowledge(deletion_protection, https=certificate is not None)

    def _acknowledge(self, deletion_protection: bool, *, https: bool) -> None:
        if not https:
            internal = (
                "No domain is named, so there is no certificate the listener could serve: viewers reach only "
                "CloudFront, which accepts HTTPS alone and terminates TLS; this listener is internal and admits "
                "only CloudFront's VPC origin inside the VPC. Naming a domain turns it into HTTPS."
            )
            for rule_id in (
                "NIST.800.53.R5::NIST.800.53.R5-ALBHttpToHttpsRedirection",
                "NIST.800.53.R5::NIST.800.53.R5-ELBv2ACMCertificateRequired",
            ):
                Validations.of(self.listener).acknowledge(Acknowledgment(id=rule_id, reason=internal))
        balancer = Validations.of(self.load_balancer)
        balancer.acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5::NIST.800.53.R5-ALBWAFEnabled",
                reason="The load balancer is internal and admits only CloudFront; a web ACL belongs on the "
                "distribution, which has one in every profile.",
            )
        )
        if not deletion_protection:
            balancer.acknowledge(
                Acknowledgment(
                    id="NIST.800.53.R5::NIST.800.53.R5-ELBDeletionProtectionEnabled",
                    reason="Only non-production profiles leave it off, so they can be torn down; the load "
                    "balancer holds no data and is rebuilt by a deploy.",
                )
            )
