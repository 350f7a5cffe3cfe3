"""The access ledger: every run-time call the platform depends on is allowed by the
policies that apply to it, in both profiles, and a broken policy is named."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aws_model.cloudformation import Deployment
from aws_model.iam import Decision, NamedPolicy, Principal, Request, UnsupportedPolicy, evaluate
from aws_model.ledger import AclDelivery, EndpointPassage, Entry, LedgerEntry, check_ledger
from platform_spec.connections import enclosed_services, endpoint_services
from platform_spec.names import DATA, OBSERVABILITY
from tests.platform_synth import Synthesized, synth_spec
from tests.templates import Templates, deployment_alarm_names, deployment_of, ledger_of, templates_of
from tests.variants import with_settings_and_secrets

_LEDGERS: dict[Path, tuple[Deployment, list[LedgerEntry]]] = {}


def _ledger(synth: Synthesized) -> tuple[Deployment, list[LedgerEntry]]:
    """Each profile's ledger, read once per session."""
    if synth.outdir not in _LEDGERS:
        deployment = deployment_of(synth)
        _LEDGERS[synth.outdir] = (deployment, ledger_of(synth, deployment))
    return _LEDGERS[synth.outdir]


def _entries(synth: Synthesized) -> list[Entry]:
    return [e for e in _ledger(synth)[1] if isinstance(e, Entry)]


def test_every_run_time_call_is_allowed(profile: Synthesized) -> None:
    deployment, entries = _ledger(profile)
    assert [str(f) for f in check_ledger(deployment, entries)] == []


def _has(entries: list[Entry], purpose: str, action: str, what: str, *, resource_suffix: str = "") -> None:
    """An entry whose purpose starts with ``purpose`` calls ``action`` (on a resource ending so)."""
    found = any(
        e.purpose.startswith(purpose) and e.action == action and e.resource.endswith(resource_suffix) for e in entries
    )
    assert found, f"the ledger has no entry for {what}"


def test_the_ledger_covers_every_service_of_the_spec(profile: Synthesized) -> None:
    """What each service needs at run time, from the spec: so a row cannot go missing unseen."""
    entries = _entries(profile)
    for service in profile.spec.services:
        name = service.container_name
        _has(entries, f"{name}: pull its image", "ecr:BatchGetImage", f"{name} pulling its image")
        _has(entries, f"{name}: send its logs", "logs:PutLogEvents", f"{name} writing its logs")
        if service.uses_database:
            _has(entries, name, "rds-db:connect", f"{name} signing in", resource_suffix=f"/{service.database_user}")
        if service.ecs_exec:
            _has(entries, "", "ssmmessages:OpenDataChannel", f"ECS Exec into {name}")
        _has(entries, "release: CheckServices", "ecs:DescribeServices", f"the release reading {name}'s deployments")


def test_the_ledger_covers_the_platforms_own_calls(profile: Synthesized) -> None:
    entries = _entries(profile)
    spec = profile.spec
    _has(entries, "config-loader: copy s3://", "s3:GetObject", "Prometheus's configuration loader")
    assert any(
        e.action == "elasticfilesystem:ClientWrite" and "elasticfilesystem:AccessPointArn" in e.context for e in entries
    ), "Prometheus mounting its TSDB through the access point"
    if spec.grafana is not None:
        _has(entries, "provisioning-loader: copy", "s3:ListBucket", "Grafana's provisioning loader")
        _has(entries, "grafana: read GF_SECURITY_ADMIN_PASSWORD", "secretsmanager:GetSecretValue", "its password")
    for action in (
        "cloudformation:UpdateStack",
        "cloudformation:DescribeStackEvents",
        "ecr:PutImage",
        "ecr:ListImages",
        "ecr:BatchDeleteImage",
        "ecs:RunTask",
        "iam:PassRole",
        "sns:Publish",
        "kms:GenerateDataKey",
    ):
        _has(entries, "release:", action, f"the release's {action}")
    _has(entries, "delete ", "s3:DeleteObject", "the configuration hook deleting an earlier version")
    assert any(e.action == "s3:PutObject" and "/alb/AWSLogs/" in e.resource for e in entries), "load balancer logs"
    assert any(e.caller.label == "logging.s3.amazonaws.com" for e in entries), "the configuration bucket's logs"
    if spec.network.nat == "instance":
        _has(entries, "", "cloudformation:SignalResource", "the NAT instance's signal")
    assert any(isinstance(e, AclDelivery) for e in _ledger(profile)[1]), "CloudFront's standard logs"


def test_every_alarm_and_every_encrypted_log_group_has_its_rows(profile: Synthesized) -> None:
    entries = _entries(profile)
    deployment = _ledger(profile)[0]
    # Deployment alarms notify nobody: ECS acts on them (tests/synth/test_rollouts.py).
    quiet = deployment_alarm_names(templates_of(profile))
    alarms = [
        lid
        for stack in deployment.stacks
        for lid, body in deployment.resources(stack, "AWS::CloudWatch::Alarm").items()
        if body["Properties"].get("AlarmName") not in quiet
    ]
    publishing = {
        e.purpose for e in entries if e.caller.label == "cloudwatch.amazonaws.com" and e.action == "sns:Publish"
    }
    assert publishing == {f"alarm {lid}: notify" for lid in alarms}
    groups = [
        deployment.ref(stack, lid)
        for stack in deployment.stacks
        for lid, body in deployment.resources(stack, "AWS::Logs::LogGroup").items()
        if "KmsKeyId" in body["Properties"]
    ]
    encrypted = {e.purpose for e in entries if e.caller.label.startswith("logs.") and e.action == "kms:GenerateDataKey"}
    assert encrypted == {f"log group {g}: encrypted at rest" for g in groups}


def test_the_release_reads_its_own_databases_state_only_where_it_sleeps(profile: Synthesized) -> None:
    """A scheduled environment's release reads its database's state first (layers/release/asleep.py):
    the ledger holds that call, allowed on exactly the platform's instance; no other instance, nor
    every instance, and without a schedule not even that one."""
    deployment = _ledger(profile)[0]
    entries = _entries(profile)
    data = profile.stack_name(DATA)
    (instance,) = deployment.resources(data, "AWS::RDS::DBInstance")
    database = str(deployment.get_att(data, instance, "DBInstanceArn"))
    own = f":db:{profile.spec.database_identifier}"
    assert database.endswith(own)
    (release,) = {e.caller for e in entries if e.purpose.startswith("release:") and e.action == "sns:Publish"}
    reads = [e for e in entries if e.action == "rds:DescribeDBInstances"]
    read = Entry("release: ReadDatabase", release, "rds:DescribeDBInstances", database)
    if profile.spec.schedule is None:
        assert reads == []
        assert not read.check(deployment).allowed, "the release may read a database it never reads"
        return
    assert reads == [read]
    assert read.check(deployment).allowed
    for other in (database.replace(own, ":db:another-postgres"), database.replace(own, ":db:*")):
        decision = replace(read, resource=other).check(deployment)
        assert not decision.allowed, f"the release may read {other}: {decision.reason}"


# --- A deliberately broken policy fails the ledger, naming the row and the statement ---------


def _failures_after(synth: Synthesized, edit: Callable[[Templates], None]) -> list[str]:
    templates = copy.deepcopy(templates_of(synth))
    edit(templates)
    deployment = deployment_of(synth, templates)
    return [str(f) for f in check_ledger(deployment, ledger_of(synth, deployment))]


def _resources(templates: Templates, kind: str) -> list[dict[str, Any]]:
    return [r for t in templates.values() for r in t["Resources"].values() if r["Type"] == kind]


def _alarm_topic_policies(templates: Templates) -> list[dict[str, Any]]:
    """The topic policies that let CloudWatch's alarms publish: the alarm topic's (the heartbeat
    topic's only refuses plain HTTP)."""
    return [
        policy
        for policy in _resources(templates, "AWS::SNS::TopicPolicy")
        if any(s.get("Sid") == "AllowAlarmsOfThisAccount" for s in policy["Properties"]["PolicyDocument"]["Statement"])
    ]


def test_without_the_topic_policys_cloudwatch_allow_no_alarm_can_notify(dev: Synthesized) -> None:
    """A topic policy replaces SNS's default one; CloudWatch then needs an allow of its own
    (AWS re:Post, "Why didn't I receive an SNS notification for my CloudWatch alarm trigger?":
    https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger)."""

    def drop_cloudwatch(templates: Templates) -> None:
        (policy,) = _alarm_topic_policies(templates)
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        statements[:] = [s for s in statements if s.get("Sid") != "AllowAlarmsOfThisAccount"]

    failures = _failures_after(dev, drop_cloudwatch)
    quiet = deployment_alarm_names(templates_of(dev))
    alarms = sum(
        1
        for t in templates_of(dev).values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("AlarmName") not in quiet
    )
    assert len(failures) == alarms
    for failure in failures:
        assert failure.startswith("alarm ")
        assert "cloudwatch.amazonaws.com -> sns:Publish" in failure
        assert f"no statement of {dev.stack_name(OBSERVABILITY)}/AlarmsTopicPolicy" in failure


def test_a_publish_from_another_accounts_alarm_is_refused(dev: Synthesized) -> None:
    deployment, entries = _ledger(dev)
    entry = next(
        e for e in entries if isinstance(e, Entry) and e.action == "sns:Publish" and e.purpose.startswith("alarm")
    )
    foreign = Entry(
        entry.purpose,
        entry.caller,
        entry.action,
        entry.resource,
        context={**entry.context, "aws:SourceAccount": "444455556666"},
    )
    assert not foreign.check(deployment).allowed


def test_an_explicit_deny_is_named(dev: Synthesized) -> None:
    """A deny added to the configuration bucket's policy beats every role's allow."""

    def deny_reads(templates: Templates) -> None:
        for policy in _resources(templates, "AWS::S3::BucketPolicy"):
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            if not any(s.get("Principal", {}).get("Service") == "logging.s3.amazonaws.com" for s in statements):
                statements.append(
                    {
                        "Sid": "NoReads",
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:GetObject",
                        "Resource": "*",
                    }
                )

    failures = _failures_after(dev, deny_reads)
    assert failures
    assert all("s3:GetObject" in f and f.endswith("statement NoReads") for f in failures)


def test_a_missing_grant_is_named(dev: Synthesized) -> None:
    def drop_secret_reads(templates: Templates) -> None:
        for policy in _resources(templates, "AWS::IAM::Policy"):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                statement["Action"] = [a for a in actions if a != "secretsmanager:GetSecretValue"] or ["none:None"]

    failures = _failures_after(dev, drop_secret_reads)
    assert failures
    assert all("secretsmanager:GetSecretValue" in f and "no statement of" in f for f in failures)


@pytest.mark.parametrize("operator", ["StringEqualsIfExistsButWrong", "DateGreaterThan"])
def test_an_operator_the_evaluator_does_not_know_is_an_error_not_a_pass(dev: Synthesized, operator: str) -> None:
    def add_condition(templates: Templates) -> None:
        (policy,) = _alarm_topic_policies(templates)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "AllowAlarmsOfThisAccount":
                statement["Condition"][operator] = {"aws:CurrentTime": "2026-01-01T00:00:00Z"}

    with pytest.raises(UnsupportedPolicy, match=operator):
        _failures_after(dev, add_condition)


# --- The interface endpoints let only this account through -----------------------------------

# An account the deployment's model never uses (cloudformation_values models one account).
OTHER_ACCOUNT = "444455556666"


def _interface_passages(synth: Synthesized) -> list[EndpointPassage]:
    return [e for e in _ledger(synth)[1] if isinstance(e, EndpointPassage) and e.service != "s3"]


def test_the_platforms_calls_pass_the_interface_endpoints_and_another_accounts_credentials_do_not(
    prod: Synthesized,
) -> None:
    """Code in a task with no internet route could still use another account's credentials through
    an endpoint that admits anyone (the default endpoint policy; AWS PrivateLink guide, "Control
    access to VPC endpoints using endpoint policies":
    https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html)."""
    services = endpoint_services(prod.spec)
    if not services:
        pytest.skip("the profile has no interface endpoints (the next test's variant has)")
    deployment = _ledger(prod)[0]
    passages = _interface_passages(prod)
    assert set(services) <= {p.service for p in passages}, "every endpoint carries some of the platform's calls"
    through_endpoints = [p for p in passages if p.service in services]
    assert [p.row for p in through_endpoints if not p.check(deployment).allowed] == []
    stolen = f"arn:{deployment.partition}:iam::{OTHER_ACCOUNT}:role/stolen"
    passed = [p.row for p in through_endpoints if replace(p, principal=stolen).check(deployment).allowed]
    assert passed == [], "another account's credentials pass the endpoints"


@pytest.fixture(scope="module")
def enclosed_everything(prod: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The production profile with interface endpoints, its services given secrets of every form and ECS Exec
    where their egress ends at the endpoints: so it has an endpoint of every kind the spec can ask
    for (Secrets Manager, SSM, ECS Exec's channels and key beside ECR and CloudWatch Logs)."""
    varied = with_settings_and_secrets(prod.spec)
    varied = replace(varied, network=replace(varied.network, interface_endpoints=True))
    enclosed = {s.name for s in enclosed_services(varied)}
    services = tuple(replace(s, ecs_exec=True) if s.name in enclosed else s for s in varied.services)
    return synth_spec(tmp_path_factory.mktemp("cdk-enclosed"), replace(varied, services=services))


def test_every_kind_of_interface_endpoint_lets_only_this_account_through(enclosed_everything: Synthesized) -> None:
    services = endpoint_services(enclosed_everything.spec)
    assert {"secretsmanager", "ssm", "ssmmessages", "kms"} <= set(services), services
    deployment = deployment_of(enclosed_everything)
    passages = [
        e
        for e in ledger_of(enclosed_everything, deployment)
        if isinstance(e, EndpointPassage) and e.service in services
    ]
    assert set(services) == {p.service for p in passages}
    assert [p.row for p in passages if not p.check(deployment).allowed] == []
    stolen = f"arn:{deployment.partition}:iam::{OTHER_ACCOUNT}:role/stolen"
    assert [p.row for p in passages if replace(p, principal=stolen).check(deployment).allowed] == []


def test_the_interface_endpoints_refuse_this_accounts_calls_on_another_accounts_resources(
    enclosed_everything: Synthesized,
) -> None:
    """Exfiltration with the platform's own credentials: writing into another account's log group,
    reading its repository, secret, parameter or key."""
    services = endpoint_services(enclosed_everything.spec)
    deployment = deployment_of(enclosed_everything)
    foreign = [
        replace(p, resource=p.resource.replace(f":{deployment.account}:", f":{OTHER_ACCOUNT}:"))
        for p in ledger_of(enclosed_everything, deployment)
        if isinstance(p, EndpointPassage) and p.service in services and f":{deployment.account}:" in p.resource
    ]
    # ECR's token and ECS Exec's channels name no resource; every other call does.
    assert {p.service for p in foreign} == set(services) - {"ecr.api", "ssmmessages"}
    assert [p.row for p in foreign if p.check(deployment).allowed] == []


# --- Only the database bootstrap reads the master secret, account administrators included ----


def _master_secret(synth: Synthesized) -> tuple[Deployment, str, str]:
    """The deployment, the master secret's ARN and its key's ARN."""
    deployment = _ledger(synth)[0]
    data = synth.stack_name(DATA)
    (instance,) = deployment.resources(data, "AWS::RDS::DBInstance")
    secret = deployment.get_att(data, instance, "MasterUserSecret.SecretArn")
    key = deployment.resolve(data, deployment.resource(data, instance)["Properties"]["MasterUserSecret"]["KmsKeyId"])
    return deployment, secret, str(key)


def _reads(deployment: Deployment, principal: str, identity: list[NamedPolicy], secret: str, key: str) -> Decision:
    """Whether ``principal`` reads the secret: Secrets Manager's GetSecretValue, then the decrypt
    Secrets Manager makes for it with the secret's key (Secrets Manager user guide, "Secret
    encryption and decryption in AWS Secrets Manager")."""
    context: dict[str, str | bool | Sequence[str]] = {"aws:SecureTransport": True}
    get = evaluate(
        Request(Principal("AWS", principal), "secretsmanager:GetSecretValue", secret, context),
        account=deployment.account,
        identity_policies=identity,
        resource_policy=deployment.resource_policy(secret),
    )
    if not get.allowed:
        return get
    via = {**context, "kms:ViaService": f"secretsmanager.{deployment.region}.amazonaws.com"}
    return evaluate(
        Request(Principal("AWS", principal), "kms:Decrypt", key, via),
        account=deployment.account,
        identity_policies=identity,
        resource_policy=deployment.resource_policy(key),
        resource_is_kms_key=True,
    )


def test_an_account_administrator_cannot_read_the_master_secret(profile: Synthesized) -> None:
    """Identity policies reach a KMS key only where its key policy lets the account's IAM decide
    (KMS developer guide, "Default key policy":
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html); the master
    secret's key lets it decide decrypts for the bootstrap's execution role only."""
    deployment, secret, key = _master_secret(profile)
    for name, actions in (("administrator", ["*"]), ("secrets-administrator", ["secretsmanager:*", "kms:*"])):
        identity = [
            NamedPolicy(
                name, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
            )
        ]
        principal = f"arn:{deployment.partition}:iam::{deployment.account}:role/{name}"
        decision = _reads(deployment, principal, identity, secret, key)
        assert not decision.allowed, f"{name} reads the master secret: {decision.reason}"


def test_the_master_secret_has_a_key_of_its_own_that_only_the_bootstraps_execution_role_reads_with(
    profile: Synthesized,
) -> None:
    deployment, secret, key = _master_secret(profile)
    readers = []
    for stack in deployment.stacks:
        for role, body in deployment.resources(stack, "AWS::IAM::Role").items():
            if body["Properties"].get("ManagedPolicyArns"):
                continue  # AWS services' own roles (RDS monitoring, AWS Backup): no secret reads
            principal = deployment.role_arn(stack, role)
            if _reads(deployment, principal, deployment.identity_policies(stack, role), secret, key).allowed:
                readers.append(role)
    entries = [e for e in _entries(profile) if e.resource == key and e.action == "kms:Decrypt"]
    assert {e.caller.role[1] for e in entries if e.caller.role} == set(readers)
    assert len(readers) == 1, readers
    assert "DatabaseBootstrap" in readers[0], readers
