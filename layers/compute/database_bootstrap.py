"""The database users, created at deploy by the one task that may read the master secret."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CustomResource, Duration, Stack, Token, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from compliance.custom_resource_timeouts import bound_service_timeout
from compliance.nag_findings import finding_arn
from layers.compute.rds_certificates import region_roots
from layers.data.postgres_database import PostgresDatabase
from layers.shared.deploy_hook import DeployHook
from layers.shared.fargate import Placement, task_subnet_ids
from layers.shared.log_groups import Logging
from layers.shared.mirrored_images import ThirdPartyImages
from layers.shared.one_off_task import OneOffTask
from layers.shared.rendered_config import content_hash
from layers.shared.workload_containers import Container
from platform_spec import ContainerUser

CONTAINER = "database-bootstrap"
# The postgres image's own user (``postgres``, 70:70 in the Alpine build): psql needs no root.
PSQL_USER = ContainerUser(uid=70, gid=70)
# The server's certificate is verified against the region's RDS roots, which the task writes where
# libpq reads them (PGSSLROOTCERT, in its writable /tmp): the master password goes only to RDS.
ROOT_CERTIFICATE = "/tmp/rds-ca.pem"
CERTIFICATES_VARIABLE = "RDS_CA_CERTIFICATES"
# One transaction: a statement that fails leaves nothing half-created.
SCRIPT = (
    f'printf "%s" "${CERTIFICATES_VARIABLE}" > "$PGSSLROOTCERT" && '
    'printf "%s" "$BOOTSTRAP_SQL" | psql --no-psqlrc --single-transaction -v ON_ERROR_STOP=1'
)
HOOK_TIMEOUT_MINUTES = 12
WAIT_TIMEOUT_MINUTES = 14


class DatabaseBootstrap(Construct):
    """Runs ``sql`` (``assets/database/bootstrap.sql.j2``, rendered from the spec) as the RDS
    master user, in a one-off Fargate task, from a custom resource: on the first deploy, and
    whenever the SQL changes (a service that uses the database is added, say). The services
    depend on it, so their users exist before they start.

    The task is the only reader of the master secret; it reaches the database from a
    security group of its own (``database-bootstrap``), and connects with ``sslmode=verify-full``
    against the region's RDS certificate authorities (Amazon RDS user guide, "Using SSL/TLS to
    encrypt a connection to a DB instance or cluster":
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html), so it gives
    the password to no server that is not the instance. Its images come through the data
    stack's pull-through cache, by digest. The hook that starts it runs the
    task, waits for it to stop and fails the deploy, naming the task and its exit code,
    when psql does not exit 0."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        database: PostgresDatabase,
        sql: str,
        images: ThirdPartyImages,
        placement: Placement,
        cluster_name: str,
        logging: Logging,
    ) -> None:
        """``database``: where the users are made, and its master secret. ``sql``: the rendered
        bootstrap. ``images``: the database client and the volume owner, as the task pulls them. ``placement``:
        the cluster and the bootstrap's own security group. ``cluster_name``: the cluster's
        fixed name, which the hook's permissions name. ``logging``: the task's and the hook's
        log groups."""
        super().__init__(scope, construct_id)
        instance = database.instance
        self.task = OneOffTask(
            self,
            "Task",
            container=Container(
                name=CONTAINER,
                image=images.database_client,
                user=PSQL_USER,
                entry_point=["sh", "-c"],
                command=[SCRIPT],
                environment={
                    "PGHOST": instance.db_instance_endpoint_address,
                    "PGPORT": instance.db_instance_endpoint_port,
                    "PGDATABASE": database.database.database_name,
                    "PGSSLMODE": "verify-full",
                    "PGSSLROOTCERT": ROOT_CERTIFICATE,
                    CERTIFICATES_VARIABLE: region_roots(self._region()),
                    "BOOTSTRAP_SQL": sql,
                },
                secrets={
                    "PGUSER": ecs.Secret.from_secrets_manager(database.secret, "username"),
                    "PGPASSWORD": ecs.Secret.from_secrets_manager(database.secret, "password"),
                },
            ),
            volume_owner_image=images.volume_owner,
            logging=logging,
        )
        task_definition = self.task.task_definition
        execution_role = task_definition.obtain_execution_role().node.default_child
        assert isinstance(execution_role, iam.CfnRole)
        # The name the master secret's key policy admits, in the data stack, before this role exists.
        execution_role.role_name = database.reader_role_name
        database.grant_secret_read(task_definition.obtain_execution_role())
        hook = DeployHook(
            self,
            "Hook",
            handler="database_bootstrap.handler",
            description="Runs the database bootstrap task and waits for it",
            logging=logging,
            timeout=Duration.minutes(HOOK_TIMEOUT_MINUTES),
        )
        cluster = placement.cluster
        self._grant(hook.role, task_definition, cluster, cluster_name)
        self.resource = CustomResource(
            self,
            "Run",
            service_token=hook.function.function_arn,
            resource_type="Custom::DatabaseBootstrap",
            service_timeout=Duration.minutes(WAIT_TIMEOUT_MINUTES),
            properties={
                "Cluster": cluster.cluster_arn,
                "TaskDefinition": task_definition.task_definition_arn,
                "Container": CONTAINER,
                "Subnets": task_subnet_ids(cluster.vpc),
                "SecurityGroups": [placement.security_group.security_group_id],
                "LogGroup": self.task.log_group.log_group_name,
                # A new SQL is a new revision anyway; the hash says why the task reruns.
                "SqlHash": content_hash(sql),
            },
        )
        bound_service_timeout(self.resource)

    def _region(self) -> str:
        region = Stack.of(self).region
        if Token.is_unresolved(region):
            raise ValueError("the database bootstrap needs its stack's region at synth: it picks the region's RDS CAs")
        return region

    def _grant(
        self, role: iam.IRole, task_definition: ecs.TaskDefinition, cluster: ecs.ICluster, cluster_name: str
    ) -> None:
        stack = Stack.of(self)
        cluster_condition = {"ArnEquals": {"ecs:cluster": cluster.cluster_arn}}
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[
                    stack.format_arn(
                        service="ecs", resource="task-definition", resource_name=f"{task_definition.family}:*"
                    )
                ],
                conditions=cluster_condition,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks"],
                resources=[stack.format_arn(service="ecs", resource="task", resource_name=f"{cluster_name}/*")],
                conditions=cluster_condition,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[task_definition.task_role.role_arn, task_definition.obtain_execution_role().role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        for pattern, reason in (
            (
                finding_arn(stack, "ecs", f"task-definition/{task_definition.family}:*"),
                "Any revision of the bootstrap's one family: a changed SQL is a new revision.",
            ),
            (
                finding_arn(stack, "ecs", f"task/{cluster_name}/*"),
                "The bootstrap task's id is made when it starts; limited to the cluster by ecs:cluster.",
            ),
        ):
            Validations.of(role).acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{pattern}]", reason=reason)
            )
