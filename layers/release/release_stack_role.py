"""The CloudFormation service role a release hands its update of the compute stack: what applying
new image tags to the services needs, and nothing that a new template body could turn into more.

"If you specify a service role, CloudFormation uses that role's credentials" for the stack's
operations, and keeps using it for that stack until another is passed (CloudFormation user guide,
"CloudFormation service role": https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).
A release's update, its roll-back and its clean-up therefore all run as this role; ``cdk deploy``
passes the bootstrap's execution role again, so a deploy is never limited by it.

What the update calls is what the CloudFormation registry schemas list for the handlers it runs
(``handlers.*.permissions``): a task definition whose image changes is replaced (registered, and
the old one deregistered at clean-up or the new one on roll-back), a service is updated in place,
and the image check's custom resource is sent to its function. ``aws_model/stack_updates.py``
reads the same from the synthesized templates, and the access ledger holds this role to it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from compliance.nag_findings import finding_arn
from layers.compute.application_service import ApplicationService


class ReleaseStackRole(Construct):
    """``role``: assumable by CloudFormation only, and passable only by the release state machine's role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str,
        services: Sequence[ApplicationService],
        hooks: Sequence[lambda_.IFunction],
    ) -> None:
        """``cluster_name``: the platform's cluster. ``services``: the compute stack's services, whose
        task definitions and services a new image tag changes. ``hooks``: the functions of the custom
        resources that read the tags (the image check)."""
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description="CloudFormation's role for a release's update of the compute stack: image tags only",
        )
        self._families = sorted({s.task_definition.family for s in services})
        self._cluster_name = cluster_name
        self._grant_task_definitions(services)
        self._grant_services(services)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[h.function_arn for h in hooks])
        )
        self._acknowledge()

    def _task_definition_arn(self, family: str) -> str:
        return Stack.of(self).format_arn(service="ecs", resource="task-definition", resource_name=f"{family}:*")

    def _grant_task_definitions(self, services: Sequence[ApplicationService]) -> None:
        """A replaced task definition: AWS::ECS::TaskDefinition's create and delete handlers. Its
        tags are set as it is registered, which needs ecs:TagResource for that action ("Grant
        permission to tag resources on creation", ECS developer guide)."""
        revisions = [self._task_definition_arn(family) for family in self._families]
        roles = [r for s in services for r in (s.task_definition.task_role, s.task_definition.obtain_execution_role())]
        for statement in (
            iam.PolicyStatement(actions=["ecs:RegisterTaskDefinition"], resources=revisions),
            iam.PolicyStatement(
                actions=["ecs:TagResource"],
                resources=revisions,
                conditions={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
            ),
            # Neither has resource-level permissions (Service Authorization Reference, Amazon ECS).
            iam.PolicyStatement(
                actions=["ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"], resources=["*"]
            ),
            iam.PolicyStatement(actions=["iam:GetRole"], resources=[r.role_arn for r in roles]),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[r.role_arn for r in roles],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
        ):
            self.role.add_to_principal_policy(statement)

    def _grant_services(self, services: Sequence[ApplicationService]) -> None:
        """A service updated in place: AWS::ECS::Service's update handler, on these services and
        their deployments. A service whose traffic ECS shifts names the role ECS does it with
        (``AdvancedConfiguration.RoleArn``), which the update passes to ECS again ("Amazon ECS
        infrastructure IAM role for load balancers", ECS developer guide)."""
        stack = Stack.of(self)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ecs:UpdateService",
                    "ecs:DescribeServices",
                    "ecs:ListServiceDeployments",
                    "ecs:ListTagsForResource",
                    "ecs:TagResource",
                    "ecs:UntagResource",
                ],
                resources=[s.service.service_arn for s in services],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"],
                resources=[
                    stack.format_arn(
                        service="ecs", resource="service-deployment", resource_name=f"{self._cluster_name}/*"
                    )
                ],
                conditions={"ArnEquals": {"ecs:service": [s.service.service_arn for s in services]}},
            )
        )
        shifting = [role for s in services if s.route is not None and (role := _shifting_role(s)) is not None]
        if shifting:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[r.role_arn for r in shifting],
                    conditions={"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}},
                )
            )

    def _acknowledge(self) -> None:
        stack = Stack.of(self)
        role = Validations.of(self.role)
        for pattern, reason in (
            (
                "*",
                "ecs:DescribeTaskDefinition and ecs:DeregisterTaskDefinition have no resource-level permissions; "
                "every other action of this role names its resources.",
            ),
            (
                finding_arn(stack, "ecs", f"service-deployment/{self._cluster_name}/*"),
                "Deployments of the cluster's services, whose ids ECS makes; limited to the platform's services "
                "by ecs:service.",
            ),
            *(
                (
                    finding_arn(stack, "ecs", f"task-definition/{family}:*"),
                    "Any revision of this one family: a release registers a new revision each time.",
                )
                for family in self._families
            ),
        ):
            role.acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{pattern}]", reason=reason))


def _shifting_role(service: ApplicationService) -> iam.IRole | None:
    """The role ECS shifts a public service's traffic with, where its rollout shifts traffic
    (``layers/compute/service_route.py`` makes it as ``ShiftingRole``)."""
    assert service.route is not None
    child = service.route.node.try_find_child("ShiftingRole")
    return child if isinstance(child, iam.Role) else None
