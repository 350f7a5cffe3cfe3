"""CloudWatch alarms for the platform, each notifying the alarm topic when it fires and when it clears."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from layers.compute.application_service import ApplicationService
from layers.observability.handles import Notifications
from layers.observability.load_balancer_metrics import target_group_metric


class PlatformAlarms(Construct):
    """An encrypted SNS topic (optionally with an email subscription) and the
    alarms: load balancer 5xx rate, unhealthy targets per service, each ECS
    service's CPU, memory and running-below-desired, the database's CPU, free
    storage and connections, and Prometheus not running."""

    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        """``email``: the spec's ``alarm_email``, subscribed to the topic; None subscribes nobody."""
        super().__init__(scope, construct_id)
        self.topic_key = key = kms.Key(
            self,
            "TopicKey",
            description="Alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch publishes to an encrypted topic only if the key lets it (SNS developer guide,
        # "Configuring AWS KMS permissions"), and only for this account's alarms: the confused-
        # deputy keys CloudWatch sends (as aws-samples' MDAA documents for cloudwatch.amazonaws.com).
        alarms_of_this_account = f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": alarms_of_this_account},
                },
            )
        )
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True, display_name="Platform alarms")
        self.notifications = Notifications(topic=self.topic, key=key)
        # The topic's policy replaces SNS's default one, which let the account's own
        # principals publish; CloudWatch needs its own statement, limited to this
        # account's alarms ("Why didn't I receive an SNS notification for my CloudWatch
        # alarm trigger?", AWS re:Post knowledge center).
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": alarms_of_this_account},
                },
            )
        )
        if email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms: list[cloudwatch.Alarm] = []
        self._action = cloudwatch_actions.SnsAction(self.topic)

    def _add(
        self,
        metric: cloudwatch.Metric | cloudwatch.MathExpression,
        alarm_id: str,
        *,
        description: str,
        threshold: float,
        periods: int,
        operator: cloudwatch.ComparisonOperator,
        missing: cloudwatch.TreatMissingData,
    ) -> None:
        """An alarm on ``metric`` that notifies the topic when it fires and when it clears."""
        alarm = metric.create_alarm(
            self,
            alarm_id,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=operator,
            treat_missing_data=missing,
        )
        self.notify(alarm)

    def notify(self, alarm: cloudwatch.Alarm) -> None:
        """``alarm`` (made elsewhere) notifies the topic when it fires and when it clears."""
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)

    def application_services(
        self,
        services: Mapping[str, ApplicationService],
        *,
        load_balancer: elbv2.ApplicationLoadBalancer,
        cluster_name: str,
    ) -> None:
        """The load balancer's 5xx rate, each public service's targets, and every service's CPU,
        memory and running count; a service with ``min_tasks = 0`` sleeps by design, unalarmed."""
        self.load_balancer(load_balancer, sleepers=any(a.spec.min_tasks == 0 for a in services.values()))
        for name, application in services.items():
            for index, target_group in enumerate(application.target_groups):
                # The first group keeps its alarm's name; a second (ECS's alternate) gets its own.
                self.unhealthy_targets(name if index == 0 else f"{name}Alternate", target_group, load_balancer)
            self.ecs_service(
                name, application.service, cluster_name=cluster_name, sleeps=application.spec.min_tasks == 0
            )

    def load_balancer(
        self, load_balancer: elbv2.IApplicationLoadBalancer, *, max_error_percent: int = 5, sleepers: bool = False
    ) -> None:
        """The share of requests answered 5xx; with ``sleepers``, not counting the 503s that wake them
        (layers/compute/wake_on_demand.py): a service awake with no task is its BelowDesired alarm's."""
        metrics = load_balancer.metrics
        using: dict[str, cloudwatch.IMetric] = {
            "elb5xx": metrics.http_code_elb(
                elbv2.HttpCodeElb.ELB_5XX_COUNT, statistic="Sum", period=Duration.minutes(5)
            ),
            "target5xx": metrics.http_code_target(
                elbv2.HttpCodeTarget.TARGET_5XX_COUNT, statistic="Sum", period=Duration.minutes(5)
            ),
            "requests": metrics.request_count(statistic="Sum", period=Duration.minutes(5)),
        }
        errors = "elb5xx + target5xx"
        if sleepers:
            using["elb503"] = metrics.http_code_elb(
                elbv2.HttpCodeElb.ELB_503_COUNT, statistic="Sum", period=Duration.minutes(5)
            )
            errors = "elb5xx - FILL(elb503, 0) + target5xx"
        rate = cloudwatch.MathExpression(
            expression=f"100 * ({errors}) / MAX([requests, 1])",
            using_metrics=using,
            label="5xx responses (%)",
            period=Duration.minutes(5),
        )
        self._add(
            rate,
            "LoadBalancer5xxRate",
            description=f"More than {max_error_percent}% of requests answered 5xx",
            threshold=max_error_percent,
            periods=2,
            operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def unhealthy_targets(
        self,
        name: str,
        target_group: elbv2.ApplicationTargetGroup,
        load_balancer: elbv2.ApplicationLoadBalancer,
    ) -> None:
        unhealthy = target_group_metric(
            target_group, load_balancer, "UnHealthyHostCount", statistic="Maximum", period=Duration.minutes(1)
        )
        self._add(
            unhealthy,
            f"{name}UnhealthyTargets",
            description=f"{name}: the load balancer sees unhealthy targets",
            threshold=0,
            periods=3,
            operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def ecs_service(self, name: str, service: ecs.FargateService, *, cluster_name: str, sleeps: bool = False) -> None:
        """CPU, memory, running below desired. Asleep, a service publishes no CPU or memory (nor, maybe,
        task counts): not breaching, so no OK notice at each wake (OKActions run on a transition to OK
        "from any other state": AWS::CloudWatch::Alarm, CloudFormation template reference)."""
        quiet = cloudwatch.TreatMissingData.NOT_BREACHING
        # Built here rather than by service.metric_*: those name the cluster by reference,
        # which from this stack is a read of the compute stack's output; its name is fixed.
        for metric_name, what in (("CPUUtilization", "CPU"), ("MemoryUtilization", "Memory")):
            metric = cloudwatch.Metric(
                namespace="AWS/ECS",
                metric_name=metric_name,
                dimensions_map={"ClusterName": cluster_name, "ServiceName": service.service_name},
                statistic="Average",
                period=Duration.minutes(5),
            )
            self._add(
                metric,
                f"{name}{what}",
                description=f"{name}: {what} above 85% of the task's reservation",
                threshold=85,
                periods=3,
                operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                missing=quiet if sleeps else cloudwatch.TreatMissingData.MISSING,
            )
        self._add(
            self._tasks_missing(name, service, cluster_name),
            f"{name}BelowDesired",
            description=f"{name}: fewer tasks running than desired for 5 minutes",
            threshold=0,
            periods=5,
            operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            missing=quiet if sleeps else cloudwatch.TreatMissingData.BREACHING,
        )

    def not_running(self, name: str, service: ecs.FargateService, *, cluster_name: str) -> None:
        self._add(
            self._running(service, cluster_name),
            f"{name}NotRunning",
            description=f"{name}: no task running",
            threshold=1,
            periods=3,
            operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    def database(self, identifier: str, *, allocated_storage_gib: int, max_connections: int) -> None:
        """Alarms on the instance named ``identifier`` (a fixed name: no reference to the data stack)."""
        low_storage_bytes = allocated_storage_gib * 1024**3 // 10

        def metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/RDS",
                metric_name=name,
                dimensions_map={"DBInstanceIdentifier": identifier},
                statistic="Average",
                period=Duration.minutes(5),
            )

        for alarm_id, database_metric, threshold, operator, description in (
            (
                "DatabaseCpu",
                metric("CPUUtilization"),
                80,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                "database CPU above 80%",
            ),
            (
                "DatabaseFreeStorage",
                metric("FreeStorageSpace"),
                low_storage_bytes,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                "database free storage below 10% of its allocation",
            ),
            (
                "DatabaseConnections",
                metric("DatabaseConnections"),
                max_connections,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                f"more than {max_connections} database connections",
            ),
        ):
            self._add(
                database_metric,
                alarm_id,
                description=description,
                threshold=threshold,
                periods=3,
                operator=operator,
                missing=cloudwatch.TreatMissingData.MISSING,
            )

    @staticmethod
    def _running(service: ecs.FargateService, cluster_name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions_map={"ClusterName": cluster_name, "ServiceName": service.service_name},
            statistic="Minimum",
            period=Duration.minutes(1),
        )

    def _tasks_missing(self, name: str, service: ecs.FargateService, cluster_name: str) -> cloudwatch.MathExpression:
        desired = cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name="DesiredTaskCount",
            dimensions_map={"ClusterName": cluster_name, "ServiceName": service.service_name},
            statistic="Maximum",
            period=Duration.minutes(1),
        )
        return cloudwatch.MathExpression(
            expression="desired - running",
            using_metrics={"desired": desired, "running": self._running(service, cluster_name)},
            label=f"{name}: tasks missing",
            period=Duration.minutes(1),
        )
