"""The release state machine: the definition from ``layers.release.definition``, its role, logs and tracing."""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Aws, Stack, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from compliance.nag_findings import finding_arn
from layers.release.asleep import READ_DATABASE
from layers.release.definition import release_definition
from layers.release.targets import ReleaseTargets
from layers.shared.log_groups import Logging
from platform_spec import PlatformSpec

ECS_EVENTS_RULE = "StepFunctionsGetEventsForECSTaskRule"


class DeploymentStateMachine(Construct):
    """Releases an image tag (see ``layers.release.definition``); its role can make exactly the calls
    the definition makes, on exactly the stack, repositories, task families and cluster it names."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        targets: ReleaseTargets,
        one_off_task_definitions: list[ecs.TaskDefinition],
        topic_key: kms.IKey,
        logging: Logging,
    ) -> None:
        """``spec``: the platform, which the definition is built from and which names the state machine
        and the cluster. ``targets``: what the release acts on (``release_targets``), which its role's
        grants name. ``one_off_task_definitions``: the migrations' and smoke tests' tasks, whose
        families it may register copies of and run. ``topic_key``: the alarm topic's key, which publishing
        its notices to that topic needs. ``logging``: its execution log group's key and retention."""
        super().__init__(scope, construct_id)
        self.definition = release_definition(spec, targets)
        stack = Stack.of(self)
        # Built from the fixed name: the state machine's own ARN would make the role depend on it.
        own_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=spec.release_state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role = iam.Role(
            self,
            "Role",
            # Only Step Functions acting for this one state machine may assume it, so no other
            # state machine can borrow its grants (Step Functions developer guide, "Cross-service
            # confused deputy prevention").
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": own_arn},
                },
            ),
        )
        self._families = [task.family for task in one_off_task_definitions]
        self._grant(spec, targets, one_off_task_definitions, topic_key)
        log_group = logging.log_group(self, "Logs")
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            # Named, so the release role (CI stack) can be limited to exactly this one.
            state_machine_name=spec.release_state_machine_name,
            # The definition carries its own TimeoutSeconds: a construct-level timeout is
            # dropped when the body is a string.
            definition_body=sfn.DefinitionBody.from_string(stack.to_json_string(self.definition)),
            role=self.role,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        self._acknowledge(spec, targets)

    def _grant(
        self,
        spec: PlatformSpec,
        targets: ReleaseTargets,
        one_off_task_definitions: list[ecs.TaskDefinition],
        topic_key: kms.IKey,
    ) -> None:
        stack = Stack.of(self)
        cluster_condition = {"ArnEquals": {"ecs:cluster": targets.cluster_arn}}
        statements = [
            # The release: one stack, updated through CloudFormation with the release's own stack
            # role; its events name the first resource that failed when an update rolls back.
            iam.PolicyStatement(
                actions=[
                    "cloudformation:DescribeStacks",
                    "cloudformation:DescribeStackEvents",
                    "cloudformation:UpdateStack",
                    "cloudformation:CancelUpdateStack",
                ],
                resources=[
                    stack.format_arn(
                        service="cloudformation", resource="stack", resource_name=f"{targets.compute_stack}/*"
                    )
                ],
            ),
            # Never the bootstrap's execution role: CloudFormation acting as it could do anything a
            # new template body asks (docs/security.md, "What the release can do").
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[targets.stack_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            ),
            # Find and mark each image; list the marks and remove those no longer needed (a
            # tag at a time: the image keeps its build tag).
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:PutImage", "ecr:ListImages", "ecr:BatchDeleteImage"],
                resources=[
                    stack.format_arn(service="ecr", resource="repository", resource_name=name)
                    for _, name in sorted(targets.repositories.items())
                ],
            ),
            iam.PolicyStatement(
                actions=["ecs:DescribeServices"],
                resources=[stack.format_arn(service="ecs", resource="service", resource_name=f"{spec.cluster_name}/*")],
            ),
            # DescribeTaskDefinition has no resource-level permissions; RegisterTaskDefinition
            # takes the task-definition resource (Service Authorization Reference, Amazon ECS:
            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html).
            iam.PolicyStatement(actions=["ecs:DescribeTaskDefinition"], resources=["*"]),
            iam.PolicyStatement(
                actions=["ecs:RegisterTaskDefinition"],
                resources=[
                    stack.format_arn(service="ecs", resource="task-definition", resource_name=f"{family}:*")
                    for family in self._families
                ],
            ),
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[
                    stack.format_arn(service="ecs", resource="task-definition", resource_name=f"{family}:*")
                    for family in self._families
                ],
                conditions=cluster_condition,
            ),
            iam.PolicyStatement(
                actions=["ecs:StopTask", "ecs:DescribeTasks"],
                resources=[stack.format_arn(service="ecs", resource="task", resource_name=f"{spec.cluster_name}/*")],
                conditions=cluster_condition,
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[
                    role.role_arn
                    for task in one_off_task_definitions
                    for role in (task.task_role, task.obtain_execution_role())
                ],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule", resource_name=ECS_EVENTS_RULE)],
            ),
            iam.PolicyStatement(actions=["sns:Publish"], resources=[targets.topic_arn]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[topic_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com"}},
            ),
        ]
        if READ_DATABASE in self.definition["States"]:
            # A scheduled environment's release reads its own database's state first, and
            # refuses while it sleeps (layers/release/asleep.py); nothing else of RDS.
            database = stack.format_arn(
                service="rds",
                resource="db",
                resource_name=spec.database_identifier,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            statements.append(iam.PolicyStatement(actions=["rds:DescribeDBInstances"], resources=[database]))
        for statement in statements:
            self.role.add_to_principal_policy(statement)

    def _acknowledge(self, spec: PlatformSpec, targets: ReleaseTargets) -> None:
        stack = Stack.of(self)
        role = Validations.of(self.role)
        role.acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="ecs:DescribeTaskDefinition, CloudWatch Logs delivery "
                "and X-Ray tracing have no resource-level permissions; every other call names its resources.",
            )
        )
        for pattern, reason in (
            (
                finding_arn(stack, "cloudformation", f"stack/{targets.compute_stack}/*"),
                "The one stack the release updates: CloudFormation adds an id to its name when it creates it.",
            ),
            (
                finding_arn(stack, "ecs", f"service/{spec.cluster_name}/*"),
                "Services of the platform's cluster, whose names CloudFormation makes; read only, to see which "
                "revision each runs.",
            ),
            (
                finding_arn(stack, "ecs", f"task/{spec.cluster_name}/*"),
                "Tasks of the platform's cluster, whose ids are made at run time; also limited by ecs:cluster.",
            ),
            *(
                (
                    finding_arn(stack, "ecs", f"task-definition/{family}:*"),
                    "Any revision of this one family: the release registers a new revision each time.",
                )
                for family in self._families
            ),
        ):
            role.acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{pattern}]", reason=reason))
