"""The ledger's calls for tasks: what every container of every task definition does to start
(pull its image, write its logs, read its secrets), what its task does (copy from S3, sign in to
the database, mount its volumes), and ECS Exec sessions into a service's tasks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aws_model.ledger.entries import Caller, EndpointPassage, Entry, LedgerEntry, default_key_policy
from aws_model.ledger.reader import Reader


class TaskCalls(Reader):
    """Reads the task definitions and services."""

    def task_definitions(self) -> Iterator[LedgerEntry]:
        for stack, _, body in self._all("AWS::ECS::TaskDefinition"):
            raw = body["Properties"]
            props = self._props(stack, body)
            containers = props["ContainerDefinitions"]
            name = next(c["Name"] for c in containers if c.get("Essential", True))
            execution = self._role(stack, raw["ExecutionRoleArn"], f"{name} task's execution role")
            task = self._role(stack, raw["TaskRoleArn"], f"{name} task's role")
            for container in containers:
                yield from self._launch(execution, container)
                yield from self._s3_loader(task, container)
                yield from self._database(task, container)
            yield from self._file_systems(task, props)

    def _pulled_through(self, repository: str) -> bool:
        """Whether ``repository`` is under a pull-through cache rule's prefix."""
        return any(
            repository.startswith(f"{self._props(stack, body)['EcrRepositoryPrefix']}/")
            for stack, _, body in self._all("AWS::ECR::PullThroughCacheRule")
        )

    def _launch(self, execution: Caller, container: Mapping[str, Any]) -> Iterator[LedgerEntry]:
        """What the execution role does to start a container: pull, log, read secrets."""
        name = container["Name"]
        image = str(container["Image"])
        registry = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/"
        if image.startswith(registry):
            repository = image.removeprefix(registry).rsplit(":", 1)[0].split("@")[0]
            arn = f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{repository}"
            purpose = f"{name}: pull its image"
            yield Entry(purpose, execution, "ecr:GetAuthorizationToken", "*")
            yield EndpointPassage(purpose, "ecr:GetAuthorizationToken", "*", service="ecr.api")
            for action in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"):
                yield Entry(purpose, execution, action, arn)
                yield EndpointPassage(purpose, action, arn, service="ecr.dkr")
            if self._pulled_through(repository):
                # A pull through the cache imports the image, and creates its repository the first
                # time (Amazon ECR user guide, "IAM permissions required to sync an upstream registry").
                imported = f"{name}: import its image through the pull-through cache"
                for action in ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository"):
                    yield Entry(imported, execution, action, arn)
                    yield EndpointPassage(imported, action, arn, service="ecr.dkr")
            layer = f"arn:{self.partition}:s3:::prod-{self.region}-starport-layer-bucket/layer-digest"
            yield EndpointPassage(purpose, "s3:GetObject", layer)
        options = container.get("LogConfiguration", {}).get("Options", {})
        if "awslogs-group" in options:
            stream = self._log_stream(options["awslogs-group"], f"{options['awslogs-stream-prefix']}/{name}/task-id")
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                yield Entry(f"{name}: send its logs", execution, action, stream)
                yield EndpointPassage(f"{name}: send its logs", action, stream, service="logs")
        for secret in container.get("Secrets", []):
            yield from self._secret(execution, f"{name}: read {secret['Name']}", str(secret["ValueFrom"]))

    def _secret(self, execution: Caller, purpose: str, value_from: str) -> Iterator[LedgerEntry]:
        """ECS reads a secret with the execution role ("Required IAM permissions for Amazon ECS
        secrets"): GetSecretValue on a Secrets Manager secret (``valueFrom`` may add a JSON key,
        version stage and id after the ARN), GetParameters on an SSM parameter; each decrypted
        through its service with the key that encrypts it."""
        parameter = ":ssm:" in value_from
        arn = value_from if parameter else ":".join(value_from.split(":")[:7])
        action, service = (
            ("ssm:GetParameters", "ssm") if parameter else ("secretsmanager:GetSecretValue", "secretsmanager")
        )
        external = self.external_secrets.get(arn)
        yield EndpointPassage(purpose, action, external.arn if external else arn, service=service)
        if external is not None:
            yield Entry(purpose, execution, action, external.arn, key=external.key_arn)
            if external.key_arn is not None:
                yield Entry(
                    purpose,
                    execution,
                    "kms:Decrypt",
                    external.key_arn,
                    key=external.key_arn,
                    context=self._via(service),
                    outside_policy=default_key_policy(external.key_arn, self.account),
                )
            return
        key = self._secret_key(arn)
        yield Entry(purpose, execution, action, arn, key=key)
        if key is not None:
            yield Entry(purpose, execution, "kms:Decrypt", key, key=key, context=self._via(service))

    def _s3_loader(self, task: Caller, container: Mapping[str, Any]) -> Iterator[LedgerEntry]:
        """An init container that copies from S3 (``s3 cp [--recursive] s3://bucket/key dest``)."""
        command = [str(part) for part in container.get("Command", [])]
        if command[:2] != ["s3", "cp"]:
            return
        recursive = "--recursive" in command
        source = next(part for part in command if part.startswith("s3://"))
        bucket, _, key = source.removeprefix("s3://").partition("/")
        purpose = f"{container['Name']}: copy s3://{bucket}/{key}"
        if not recursive:
            yield from self._s3_read(task, purpose, bucket, key)
            yield from self._configured_calls(task, bucket, key)
            return
        yield Entry(purpose, task, "s3:ListBucket", f"arn:{self.partition}:s3:::{bucket}", context={"s3:prefix": key})
        yield EndpointPassage(purpose, "s3:ListBucket", f"arn:{self.partition}:s3:::{bucket}")
        for object_key in self._objects_under(bucket, key):
            yield from self._s3_read(task, purpose, bucket, object_key)
            yield from self._configured_calls(task, bucket, object_key)

    def _configured_calls(self, task: Caller, bucket: str, object_key: str) -> Iterator[Entry]:
        """What a configuration file the task copies makes it call: a Prometheus configuration
        remote-writes to a managed workspace of the deployment, an Alertmanager configuration
        publishes to topics of the deployment (each named by its ARN in the file)."""
        contents = [
            str(props["Content"])
            for stack, _, body in self._all("Custom::ConfigObject")
            if (props := self._props(stack, body))["Bucket"] == bucket and props["Key"] == object_key
        ]
        for stack, logical_id, _ in self._all("AWS::APS::Workspace"):
            endpoint = self.d.get_att(stack, logical_id, "PrometheusEndpoint")
            if any(endpoint in content for content in contents):
                arn = self.d.get_att(stack, logical_id, "Arn")
                yield Entry("prometheus: remote-write samples", task, "aps:RemoteWrite", arn)
        for stack, logical_id, _ in self._all("AWS::SNS::Topic"):
            topic = self.d.ref(stack, logical_id)
            if any(topic in content for content in contents):
                yield from self._publish(task, f"publish to {topic.rsplit(':', 1)[-1]} (as configured)", topic)

    def _objects_under(self, bucket: str, prefix: str) -> list[str]:
        keys = [
            str(props["Key"])
            for stack, _, body in self._all("Custom::ConfigObject")
            if (props := self._props(stack, body))["Bucket"] == bucket and str(props["Key"]).startswith(prefix)
        ]
        if not keys:
            raise ValueError(f"nothing in the deployment writes under s3://{bucket}/{prefix}")
        return keys

    def _database(self, task: Caller, container: Mapping[str, Any]) -> Iterator[Entry]:
        environment = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
        if environment.get("DB_IAM_AUTH") != "true":
            return
        stack, logical_id = self._find("AWS::RDS::DBInstance", "Endpoint.Address", environment["DB_HOST"])
        resource_id = self.d.get_att(stack, logical_id, "DbiResourceId")
        user = environment["DB_USER"]
        yield Entry(
            f"{container['Name']}: sign in to PostgreSQL as {user} with IAM authentication",
            task,
            "rds-db:connect",
            f"arn:{self.partition}:rds-db:{self.region}:{self.account}:dbuser:{resource_id}/{user}",
        )

    def _file_systems(self, task: Caller, props: Mapping[str, Any]) -> Iterator[Entry]:
        writers = {
            m["SourceVolume"]
            for c in props["ContainerDefinitions"]
            for m in c.get("MountPoints", [])
            if not m.get("ReadOnly", False)
        }
        for volume in props.get("Volumes", []):
            efs = volume.get("EFSVolumeConfiguration")
            if efs is None or efs.get("AuthorizationConfig", {}).get("IAM") != "ENABLED":
                continue
            fs = self._find("AWS::EFS::FileSystem", "Ref", efs["FilesystemId"])
            point = self._find("AWS::EFS::AccessPoint", "Ref", efs["AuthorizationConfig"]["AccessPointId"])
            fs_arn = self.d.get_att(*fs, "Arn")
            context = {"elasticfilesystem:AccessPointArn": self.d.get_att(*point, "Arn")}
            actions = ["elasticfilesystem:ClientMount"]
            if volume["Name"] in writers:
                actions.append("elasticfilesystem:ClientWrite")
            for action in actions:
                yield Entry(
                    f"mount volume {volume['Name']} through its access point", task, action, fs_arn, context=context
                )

    def exec_sessions(self) -> Iterator[LedgerEntry]:
        """ECS Exec into a service's tasks: the agent's channels, the session log, its key
        (ECS developer guide, "Monitor Amazon ECS containers with ECS Exec": IAM permissions)."""
        for stack, logical_id, body in self._all("AWS::ECS::Service"):
            props = self._props(stack, body)
            if not props.get("EnableExecuteCommand"):
                continue
            task_stack, task_id = self._find("AWS::ECS::TaskDefinition", "Ref", props["TaskDefinition"])
            raw = self.d.resource(task_stack, task_id)["Properties"]
            task = self._role(task_stack, raw["TaskRoleArn"], f"{logical_id} task's role")
            purpose = f"{logical_id}: ECS Exec session"
            for action in (
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
                "logs:DescribeLogGroups",
            ):
                yield Entry(purpose, task, action, "*")
                yield EndpointPassage(purpose, action, "*", service=action.split(":")[0])
            cluster = self._find("AWS::ECS::Cluster", "Ref", props["Cluster"])
            configuration = self._props(cluster[0], self.d.resource(*cluster))["Configuration"]
            exec_config = configuration["ExecuteCommandConfiguration"]
            group = exec_config["LogConfiguration"]["CloudWatchLogGroupName"]
            for action in ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"):
                yield Entry(purpose, task, action, self._log_stream(group, "ecs-execute-command-session"))
                yield EndpointPassage(
                    purpose, action, self._log_stream(group, "ecs-execute-command-session"), service="logs"
                )
            key = exec_config.get("KmsKeyId")
            if key is not None:
                yield Entry(purpose, task, "kms:Decrypt", key, key=key)
                yield EndpointPassage(purpose, "kms:Decrypt", key, service="kms")
