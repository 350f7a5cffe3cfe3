"""A service's own settings and secrets: settings as plain environment, secrets as ECS secrets that
ECS reads with the task's execution role as the container starts ("Pass sensitive data to an
Amazon ECS container", Amazon ECS developer guide), never in a template's text; the one-off tasks
on a service's image get the same; and each execution role may read exactly the secrets of its
own task, and nothing broader.

The spec under test is the dev profile with every kind of service and secrets of each form, on
services chosen by what they do (the migrating service, a caller), not by name
(``tests.variants.every_kind_variant``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from aws_model.cloudformation import Deployment
from aws_model.iam import Principal, Request, evaluate
from aws_model.ledger import check_ledger
from aws_model.ledger.external_secrets import SUFFIX, secret_arns
from platform_spec import ParameterStoreSecret, PlatformSpec, Secret, SecretsManagerSecret, ServiceSpec
from platform_spec.names import COMPUTE, DELIVERY
from tests.platform_synth import Synthesized
from tests.templates import deployment_of, ledger_of
from tests.variants import SECRETS_ACCOUNT as ACCOUNT


@dataclass(frozen=True)
class Variant:
    synth: Synthesized
    deployment: Deployment

    @property
    def spec(self) -> PlatformSpec:
        return self.synth.spec


@pytest.fixture(scope="module")
def variant(kinds: Synthesized) -> Variant:
    """The profile with every kind of service, settings and secrets of every form (tests/variants.py),
    synthesized with the compliance checks: cdk-nag passes the grants too."""
    return Variant(kinds, deployment_of(kinds))


def _containers(variant: Variant, layer: str) -> dict[str, tuple[str, dict[str, Any], str]]:
    """Container name -> (stack, definition, logical id of its task's execution role)."""
    stack = variant.synth.stack_name(layer)
    found = {}
    for body in variant.synth.template_json(layer)["Resources"].values():
        if body["Type"] == "AWS::ECS::TaskDefinition":
            role = body["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
            for container in body["Properties"]["ContainerDefinitions"]:
                found[container["Name"]] = (stack, container, role)
    return found


def _value_from(secret: Secret, spec: PlatformSpec) -> str:
    named, _ = secret_arns(secret, spec=spec, account=ACCOUNT)
    if isinstance(secret, SecretsManagerSecret) and secret.json_key:
        return f"{named}:{secret.json_key}::"
    return named


def _tasks_of(variant: Variant, service: ServiceSpec) -> list[tuple[str, dict[str, Any], str]]:
    """The containers that run ``service``'s image with its settings: its own, and the release's
    one-off tasks on its image."""
    spec = variant.spec
    tasks = [_containers(variant, COMPUTE)[service.container_name]]
    delivery = _containers(variant, DELIVERY)
    if service.name == spec.delivery.migrations_service:
        tasks.append(delivery["migrations"])
    if service.name == spec.delivery.smoke_test_service:
        tasks.append(delivery["smoke-tests"])
    return tasks


def test_settings_are_plain_environment_and_secrets_only_ecs_secrets(variant: Variant) -> None:
    spec = variant.spec
    assert any(s.secrets for s in spec.services)
    assert any(s.settings for s in spec.services)
    for service in spec.services:
        for stack, container, _ in _tasks_of(variant, service):
            environment = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
            assert {k: environment.get(k) for k in service.settings} == dict(service.settings), container["Name"]
            secrets = {
                s["Name"]: variant.deployment.resolve(stack, s["ValueFrom"]) for s in container.get("Secrets", [])
            }
            assert secrets == {name: _value_from(secret, spec) for name, secret in service.secrets.items()}
            assert not set(service.secrets) & set(environment), "a secret's variable is also plain environment"


def test_no_secret_is_read_by_a_task_of_another_service(variant: Variant) -> None:
    spec = variant.spec
    mine = {c[1]["Name"] for s in spec.services if s.secrets for c in _tasks_of(variant, s)}
    for layer in (COMPUTE, DELIVERY):
        for name, (_, container, _) in _containers(variant, layer).items():
            if name not in mine and name != "database-bootstrap":
                assert not container.get("Secrets"), f"{name} reads secrets no service of its gave it"


def test_every_secret_read_is_allowed_through_its_key(variant: Variant) -> None:
    entries = ledger_of(variant.synth, variant.deployment)
    assert [str(f) for f in check_ledger(variant.deployment, entries)] == []
    reads = {(e.purpose, e.action) for e in entries if hasattr(e, "action")}
    for service in variant.spec.services:
        for _, container, _ in _tasks_of(variant, service):
            for name, secret in service.secrets.items():
                action = (
                    "ssm:GetParameters" if isinstance(secret, ParameterStoreSecret) else "secretsmanager:GetSecretValue"
                )
                assert (f"{container['Name']}: read {name}", action) in reads
                if secret.key_arn:
                    assert (f"{container['Name']}: read {name}", "kms:Decrypt") in reads


def _candidates(spec: PlatformSpec) -> dict[str, tuple[str, str]]:
    """Every secret's ARN as IAM sees a read of it, and ARNs one step beside each: a longer name, a
    child path, another suffix length. -> (action, owner: the secret's ARN or '' for a decoy)."""
    found: dict[str, tuple[str, str]] = {}
    for service in spec.services:
        for secret in service.secrets.values():
            _, actual = secret_arns(secret, spec=spec, account=ACCOUNT)
            if isinstance(secret, ParameterStoreSecret):
                action = "ssm:GetParameters"
                decoys = [f"{actual}x", f"{actual}/child", actual.rsplit("/", 1)[0]]
            else:
                action = "secretsmanager:GetSecretValue"
                stem = actual[: -len(SUFFIX)]
                decoys = [f"{stem}x{SUFFIX}", f"{stem}{SUFFIX}7", f"{stem}/child{SUFFIX}"]
                if secret.complete_arn is not None:
                    # Granted exactly: the same name with another suffix is another secret (one
                    # deleted and made again); a secret named without one is granted every suffix.
                    decoys.append(f"{stem}-Zz99Yy")
            found[actual] = (action, actual)
            found.update({decoy: (action, "") for decoy in decoys if decoy != actual})
    return found


def test_each_execution_role_reads_exactly_its_own_secrets_and_nothing_beside_them(variant: Variant) -> None:
    spec, deployment = variant.spec, variant.deployment
    candidates = _candidates(spec)
    roles = {
        (stack, role): container["Name"]
        for layer in (COMPUTE, DELIVERY)
        for stack, container, role in _containers(variant, layer).values()
    }
    own: dict[tuple[str, str], set[str]] = {key: set() for key in roles}
    for service in spec.services:
        for stack, _, role in _tasks_of(variant, service):
            own[(stack, role)] |= {secret_arns(s, spec=spec, account=ACCOUNT)[1] for s in service.secrets.values()}
    checked = 0
    for (stack, role), container in roles.items():
        policies = deployment.identity_policies(stack, role)
        principal = Principal("AWS", deployment.role_arn(stack, role))
        for arn, (action, owner) in candidates.items():
            decision = evaluate(
                Request(principal=principal, action=action, resource=arn, context={"aws:SecureTransport": True}),
                account=deployment.account,
                identity_policies=policies,
                resource_policy=None,
            )
            expected = bool(owner) and owner in own[(stack, role)]
            assert decision.allowed == expected, f"{container}'s execution role, {action} on {arn}: {decision.reason}"
            checked += 1
    assert checked >= len(roles) * len(candidates) > 0


def test_a_task_role_reads_no_secret(variant: Variant) -> None:
    """The app itself (its task role) cannot read its secrets, or any other, at run time: only ECS
    hands them over, through the execution role."""
    deployment = variant.deployment
    for layer in (COMPUTE, DELIVERY):
        stack = variant.synth.stack_name(layer)
        for body in variant.synth.template_json(layer)["Resources"].values():
            if body["Type"] != "AWS::ECS::TaskDefinition":
                continue
            role = body["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
            for arn, (action, _) in _candidates(variant.spec).items():
                decision = evaluate(
                    Request(
                        principal=Principal("AWS", deployment.role_arn(stack, role)),
                        action=action,
                        resource=arn,
                        context={"aws:SecureTransport": True},
                    ),
                    account=deployment.account,
                    identity_policies=deployment.identity_policies(stack, role),
                    resource_policy=None,
                )
                assert not decision.allowed, f"task role {role} may {action} {arn}"
