"""The ledger's calls for what AWS services deliver on the platform's behalf: alarms' notices,
encrypted log groups, access logs (load balancers, distributions, buckets), flow logs, audit
trails, the NAT instance's signal and EventBridge Scheduler's calls."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from aws_model.iam import Principal
from aws_model.ledger.entries import ELB_LOG_ACCOUNTS, ELB_LOG_SERVICE, AclDelivery, Caller, Entry
from aws_model.ledger.reader import Reader, logical_id_of


class DeliveryCalls(Reader):
    """Reads the resources whose service calls on the platform's behalf."""

    def alarms(self) -> Iterator[Entry]:
        """CloudWatch publishes an alarm's state changes to its topics (re:Post, "Why didn't I
        receive an SNS notification for my CloudWatch alarm trigger?")."""
        cloudwatch = self._service("cloudwatch.amazonaws.com")
        for stack, logical_id, body in self._all("AWS::CloudWatch::Alarm"):
            props = self._props(stack, body)
            alarm_arn = self.d.get_att(stack, logical_id, "Arn")
            context = {"aws:SourceArn": alarm_arn, "aws:SourceAccount": self.account}
            for topic in sorted({*props.get("AlarmActions", []), *props.get("OKActions", [])}):
                topic_stack, topic_id = self._find("AWS::SNS::Topic", "Ref", topic)
                key = self._props(topic_stack, self.d.resource(topic_stack, topic_id)).get("KmsMasterKeyId")
                purpose = f"alarm {logical_id}: notify"
                yield Entry(purpose, cloudwatch, "sns:Publish", topic, key=key, context=context)
                if key is not None:
                    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                        yield Entry(purpose, cloudwatch, action, key, key=key, context=context)

    def encrypted_log_groups(self) -> Iterator[Entry]:
        """CloudWatch Logs encrypts each group with its key (CloudWatch Logs user guide,
        "Encrypt log data in CloudWatch Logs using AWS KMS": the key policy)."""
        for stack, logical_id, body in self._all("AWS::Logs::LogGroup"):
            key = self._props(stack, body).get("KmsKeyId")
            if key is None:
                continue
            # The service principal and the group's ARN are those of the stack's own region.
            region = self.d.region_of(stack)
            logs = self._service(f"logs.{region}.amazonaws.com")
            group = self.d.ref(stack, logical_id)
            context = {"kms:EncryptionContext:aws:logs:arn": self._log_group_arn(group, region=region)}
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                yield Entry(f"log group {group}: encrypted at rest", logs, action, key, key=key, context=context)

    def access_logs(self) -> Iterator[Entry | AclDelivery]:
        yield from self._load_balancer_logs()
        yield from self._distribution_logs()
        yield from self._bucket_logs()

    def _load_balancer_logs(self) -> Iterator[Entry]:
        for stack, logical_id, body in self._all("AWS::ElasticLoadBalancingV2::LoadBalancer"):
            attributes = {a["Key"]: a["Value"] for a in self._props(stack, body).get("LoadBalancerAttributes", [])}
            if attributes.get("access_logs.s3.enabled") != "true":
                continue
            bucket, prefix = attributes["access_logs.s3.bucket"], attributes.get("access_logs.s3.prefix", "")
            path = f"{prefix}/" if prefix else ""
            arn = (
                f"arn:{self.partition}:s3:::{bucket}/{path}AWSLogs/{self.account}/elasticloadbalancing/"
                f"{self.region}/2026/01/01/log.gz"
            )
            if self.region in ELB_LOG_ACCOUNTS:
                account = ELB_LOG_ACCOUNTS[self.region]
                caller = Caller(
                    label=f"Elastic Load Balancing ({account})",
                    principal=Principal("AWS", f"arn:{self.partition}:iam::{account}:role/log-delivery"),
                    external=True,
                )
            else:
                caller = self._service(ELB_LOG_SERVICE)
            yield Entry(f"load balancer {logical_id}: access logs", caller, "s3:PutObject", arn)

    def _distribution_logs(self) -> Iterator[AclDelivery]:
        for stack, logical_id, body in self._all("AWS::CloudFront::Distribution"):
            logging = self._props(stack, body)["DistributionConfig"].get("Logging")
            if logging is None:
                continue
            domain = str(logging["Bucket"])
            bucket = self._find("AWS::S3::Bucket", "RegionalDomainName", domain) if ".s3." in domain else None
            if bucket is None:
                raise ValueError(f"{stack}/{logical_id} logs to {domain}, not a bucket of the deployment")
            yield AclDelivery(f"distribution {logical_id}: standard logs", bucket)

    def _bucket_logs(self) -> Iterator[Entry]:
        """S3 server access logs (S3 user guide, "Enabling Amazon S3 server access logging":
        the logging.s3.amazonaws.com principal and its source conditions)."""
        s3_logging = self._service("logging.s3.amazonaws.com")
        for stack, logical_id, body in self._all("AWS::S3::Bucket"):
            logging = self._props(stack, body).get("LoggingConfiguration")
            if logging is None:
                continue
            source = self.d.ref(stack, logical_id)
            arn = f"arn:{self.partition}:s3:::{logging['DestinationBucketName']}/{logging.get('LogFilePrefix', '')}log"
            context = {"aws:SourceArn": f"arn:{self.partition}:s3:::{source}", "aws:SourceAccount": self.account}
            yield Entry(f"bucket {source}: server access logs", s3_logging, "s3:PutObject", arn, context=context)

    def audit_trails(self) -> Iterator[Entry]:
        """CloudTrail delivers a trail's log files and digests to its bucket, encrypted with its key,
        and its events through its role to its log group (CloudTrail user guide, "Amazon S3 bucket
        policy for CloudTrail" and "Configure AWS KMS key policies for CloudTrail")."""
        cloudtrail = self._service("cloudtrail.amazonaws.com")
        for stack, logical_id, body in self._all("AWS::CloudTrail::Trail"):
            props = self._props(stack, body)
            trail = f"arn:{self.partition}:cloudtrail:{self.region}:{self.account}:trail/{props['TrailName']}"
            source = {"aws:SourceArn": trail, "aws:SourceAccount": self.account}
            bucket, key = props["S3BucketName"], props.get("KMSKeyId")
            purpose = f"trail {props['TrailName']}: log files"
            yield Entry(purpose, cloudtrail, "s3:GetBucketAcl", f"arn:{self.partition}:s3:::{bucket}", context=source)
            log_file = f"AWSLogs/{self.account}/CloudTrail/{self.region}/2026/01/01/log.json.gz"
            yield Entry(
                purpose,
                cloudtrail,
                "s3:PutObject",
                f"arn:{self.partition}:s3:::{bucket}/{log_file}",
                key=key,
                context={**source, "s3:x-amz-acl": "bucket-owner-full-control"},
            )
            if key is not None:
                context = {**source, "kms:EncryptionContext:aws:cloudtrail:arn": trail}
                yield Entry(purpose, cloudtrail, "kms:GenerateDataKey", key, key=key, context=context)
            if "CloudWatchLogsRoleArn" in body["Properties"]:
                role = self._role(stack, body["Properties"]["CloudWatchLogsRoleArn"], f"trail {logical_id}'s role")
                group = str(props["CloudWatchLogsLogGroupArn"]).removesuffix(":*").rsplit(":log-group:", 1)[1]
                stream = self._log_stream(group, f"{self.account}_CloudTrail_{self.region}")
                for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                    yield Entry(f"trail {props['TrailName']}: events", role, action, stream)

    def flow_logs(self) -> Iterator[Entry]:
        for stack, logical_id, body in self._all("AWS::EC2::FlowLog"):
            raw, props = body["Properties"], self._props(stack, body)
            if props.get("LogDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
                continue
            role = self._role(stack, raw["DeliverLogsPermissionArn"], f"flow log {logical_id}'s role")
            stream = self._log_stream(props["LogGroupName"], "eni-0123456789abcdef0-all")
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                yield Entry("VPC flow logs", role, action, stream)

    def nat_instances(self) -> Iterator[Entry]:
        """An instance with a CreationPolicy signals its own stack when it is ready."""
        for stack, logical_id, body in self._all("AWS::EC2::Instance"):
            if "ResourceSignal" not in body.get("CreationPolicy", {}):
                continue
            profile = self.d.resource(stack, str(logical_id_of(body["Properties"]["IamInstanceProfile"])))
            role = self._role(stack, profile["Properties"]["Roles"][0], f"instance {logical_id}'s role")
            stack_id = self.d.resolve(stack, {"Ref": "AWS::StackId"})
            yield Entry(f"{logical_id}: report that NAT works", role, "cloudformation:SignalResource", stack_id)

    def schedules(self) -> Iterator[Entry]:
        """EventBridge Scheduler calls a universal target's API as the schedule's role
        (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html):
        the database's and the NAT instance's stop and start, on what the input names."""
        for stack, logical_id, body in self._all("AWS::Scheduler::Schedule"):
            target = self._props(stack, body)["Target"]
            call = re.fullmatch(r"arn:[a-z-]+:scheduler:::aws-sdk:(?P<service>[a-z0-9]+):(?P<api>\w+)", target["Arn"])
            if call is None:
                raise ValueError(f"{stack}/{logical_id}: the ledger does not know target {target['Arn']}")
            role = self._role(stack, body["Properties"]["Target"]["RoleArn"], f"schedule {logical_id}'s role")
            action = f"{call['service']}:{call['api'][0].upper()}{call['api'][1:]}"
            for resource in self._scheduled_resources(call["service"], json.loads(target["Input"])):
                yield Entry(f"schedule {logical_id}", role, action, resource)

    def _scheduled_resources(self, service: str, arguments: Mapping[str, Any]) -> list[str]:
        prefix = f"arn:{self.partition}:{service}:{self.region}:{self.account}"
        if service == "rds":
            return [f"{prefix}:db:{arguments['DbInstanceIdentifier']}"]
        if service == "ec2":
            return [f"{prefix}:instance/{instance}" for instance in arguments["InstanceIds"]]
        raise ValueError(f"the ledger does not know what a scheduled {service} call acts on")
