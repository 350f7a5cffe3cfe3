"""A public service's place behind the load balancer: its target groups and its listener rule.

A service whose roll-out shifts traffic (``platform_spec/rollouts.py``) has two target groups,
and its rule forwards to both, all weight on the first: ECS moves the weights of that rule, and
only that rule, as a deployment shifts traffic (ECS developer guide, "Application Load Balancer
resources for blue/green, linear, and canary deployments"). So every path of the service is
matched by its rule, the default route's included: the default route is a rule for ``/*`` at the
last priority, and the listener's own default action, which ECS never moves, is never reached.
Every action is a forward: ECS refuses a listener that mixes forwards with other actions.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, CfnResource, Duration, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from constructs import Construct

from platform_spec import ServiceSpec

DEFAULT_ROUTE = "/*"
"""What the default route's rule matches: every path."""
REDUNDANT_DEPENDENCY = (
    "CDK makes a service depend on its listener rule so its target group is attached first, and the "
    "alternate target names the same rule (and the shifting role) by reference; the duplicate is harmless."
)
LAST_PRIORITY = 50_000
"""The highest a listener rule may have (Elastic Load Balancing, "Listener rules"): the default
route's, after every path rule."""


@dataclass(frozen=True)
class ListenerRoute:
    """Where the load balancer's listener sends a service: ``priority`` orders its path rule."""

    listener: elbv2.ApplicationListener
    priority: int


class ServiceRoute(Construct):
    """The target groups (two where the roll-out shifts traffic) and the rule of one public
    service, and the service's tasks registered in them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: ServiceSpec,
        shifts: bool,
        fargate: ecs.FargateService,
        vpc: ec2.IVpc,
        route: ListenerRoute,
    ) -> None:
        """``service``: the public service, from the spec. ``shifts``: whether its roll-out shifts
        traffic (``platform_spec/rollouts.py``), which takes a second target group. ``fargate``:
        its ECS service. ``vpc``: where its tasks run. ``route``: the listener and the priority of its path rule (the
        default route takes ``LAST_PRIORITY``)."""
        super().__init__(scope, construct_id)
        names = ("Targets", "AlternateTargets") if shifts else ("Targets",)
        self.target_groups = tuple(self._target_group(name, service, vpc) for name in names)
        """Its target groups, the one ECS starts with first."""
        primary = self.target_groups[0]
        action = elbv2.ListenerAction.weighted_forward(
            [
                elbv2.WeightedTargetGroup(target_group=group, weight=100 if group is primary else 0)
                for group in self.target_groups
            ]
        )
        self.rule = elbv2.ApplicationListenerRule(
            self,
            "Rule",
            listener=route.listener,
            priority=LAST_PRIORITY if service.route is None else route.priority,
            conditions=[elbv2.ListenerCondition.path_patterns([service.route or DEFAULT_ROUTE])],
            action=action,
        )
        """The rule ECS shifts the weights of."""
        if service.route is None:
            # A listener needs a default action; the rule above answers every path first.
            route.listener.add_action(f"{service.name}-default", action=action)
        alternate = (
            ecs.AlternateTarget(
                "AlternateTarget",
                alternate_target_group=self.target_groups[1],
                production_listener=ecs.ListenerRuleConfiguration.application_listener_rule(self.rule),
                role=self._shifting_role(route.listener),
            )
            if shifts
            else None
        )
        target = fargate.load_balancer_target(
            container_name=service.container_name, container_port=service.port, alternate_target=alternate
        )
        target.attach_to_application_target_group(primary)
        if shifts:
            service_resource = fargate.node.default_child
            assert isinstance(service_resource, CfnResource)
            service_resource.add_metadata(
                "cfn-lint", {"config": {"ignore_checks": ["W3005"], "ignore_reasons": {"W3005": REDUNDANT_DEPENDENCY}}}
            )

    def _shifting_role(self, listener: elbv2.ApplicationListener) -> iam.Role:
        """What ECS needs to shift this service's traffic, and nothing of another's: the actions of
        the managed AmazonECSInfrastructureRolePolicyForLoadBalancers (AWS Managed Policy
        reference) for an Application Load Balancer, on this rule, listener and target groups."""
        role = iam.Role(self, "ShiftingRole", assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                resources=[group.target_group_arn for group in self.target_groups],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["elasticloadbalancing:ModifyRule", "elasticloadbalancing:ModifyListener"],
                resources=[self.rule.listener_rule_arn, listener.listener_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeRules",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetHealth",
                ],
                resources=["*"],
            )
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="Elastic Load Balancing's Describe actions take no resource (Service Authorization "
                "Reference, Elastic Load Balancing V2): ECS reads the rule and target groups it shifts.",
            )
        )
        return role

    def _target_group(self, name: str, service: ServiceSpec, vpc: ec2.IVpc) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
            self,
            name,
            vpc=vpc,
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
