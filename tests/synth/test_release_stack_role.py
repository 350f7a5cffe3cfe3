"""The release cannot escalate: it updates the compute stack with a CloudFormation service role
of its own, which can apply new image tags and nothing a new template body could ask for.

CloudFormation makes a stack's calls with the service role passed to it ("If you specify a
service role, CloudFormation uses that role's credentials": CloudFormation user guide,
"CloudFormation service role", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).
UpdateStack accepts a new template body, and IAM has no condition on that, so whoever can change
the release's definition can make CloudFormation do whatever the role it passes may do. The
bootstrap's execution role, which the release passed before, is AdministratorAccess after a plain
``cdk bootstrap``. Every expectation here is read off the synthesized templates and the spec."""

from __future__ import annotations

from collections.abc import Iterator

from aws_model.cloudformation import Deployment
from aws_model.iam import NamedPolicy, Principal, Request, evaluate
from aws_model.ledger import Caller, Entry, check_ledger
from aws_model.stack_updates import changed_resources
from layers.release.state_names import all_states
from platform_spec.names import COMPUTE, DELIVERY, image_tag_parameter
from tests.platform_synth import Synthesized
from tests.release_world import synthesized_definition
from tests.templates import deployment_of, ecs_service, ledger_of, task_definition

CLOUDFORMATION = "cloudformation.amazonaws.com"


def _passed_roles(synth: Synthesized) -> dict[str, str]:
    """Each UpdateStack state of the deployed definition -> the role it hands CloudFormation."""
    return {
        name: state["Arguments"]["RoleARN"]
        for name, state, _ in all_states(synthesized_definition(synth)["States"])
        if str(state.get("Resource", "")).endswith(":cloudformation:updateStack")
    }


def _bootstrap_execution_role(synth: Synthesized, deployment: Deployment) -> str:
    """The CDK bootstrap's CloudFormation execution role, as the cloud assembly names it for ``cdk deploy``."""
    properties = synth.manifest()["artifacts"][synth.stack_name(COMPUTE)]["properties"]
    arn = str(properties["cloudFormationExecutionRoleArn"])
    for pseudo, value in (
        ("AWS::Partition", deployment.partition),
        ("AWS::AccountId", deployment.account),
        ("AWS::Region", deployment.region_of(synth.stack_name(COMPUTE))),
    ):
        arn = arn.replace(f"${{{pseudo}}}", value)
    return arn


def _role_caller(deployment: Deployment, arn: str) -> Caller:
    """The role of the deployment whose ARN is ``arn``; an assertion error if no stack defines it."""
    found = [
        (stack, lid)
        for stack in deployment.stacks
        for lid in deployment.resources(stack, "AWS::IAM::Role")
        if deployment.role_arn(stack, lid) == arn
    ]
    assert found, (
        f"the release hands CloudFormation {arn}, which no stack of the platform defines: the bootstrap's "
        "execution role, AdministratorAccess after a plain `cdk bootstrap`"
    )
    ((stack, lid),) = found
    return Caller(label=lid, principal=Principal("AWS", arn), role=(stack, lid))


def _stack_role(synth: Synthesized) -> tuple[Deployment, Caller]:
    deployment = deployment_of(synth)
    (arn,) = set(_passed_roles(synth).values())
    return deployment, _role_caller(deployment, arn)


def _allowed(deployment: Deployment, caller: Caller, action: str, resource: str, **context: str) -> bool:
    return Entry("probe", caller, action, resource, context=context).check(deployment).allowed


def test_both_updates_hand_cloudformation_the_releases_own_stack_role(profile: Synthesized) -> None:
    """The release's update and its restore's update each pass the same role: one the delivery
    stack defines, which only CloudFormation may assume."""
    passed = _passed_roles(profile)
    assert len(passed) >= 2, f"expected the release's and the restore's UpdateStack, found {sorted(passed)}"
    deployment, caller = _stack_role(profile)
    assert caller.role is not None
    assert caller.role[0] == profile.stack_name(DELIVERY)
    trust = deployment.resource(*caller.role)["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": CLOUDFORMATION}]


def test_the_state_machine_may_pass_the_stack_role_and_never_the_bootstraps(profile: Synthesized) -> None:
    deployment, stack_role = _stack_role(profile)
    (machine_stack, machine_id), *_ = [
        (stack, lid)
        for stack in deployment.stacks
        for lid in deployment.resources(stack, "AWS::StepFunctions::StateMachine")
    ]
    raw = deployment.resource(machine_stack, machine_id)["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    release = _role_caller(deployment, deployment.role_arn(machine_stack, raw))
    to_cloudformation = {"iam:PassedToService": CLOUDFORMATION}
    assert _allowed(deployment, release, "iam:PassRole", stack_role.principal.value, **to_cloudformation)
    bootstrap = _bootstrap_execution_role(profile, deployment)
    assert not _allowed(deployment, release, "iam:PassRole", bootstrap, **to_cloudformation)
    # No other role of the platform may hand CloudFormation the stack role (the roles with an
    # AWS-managed policy, whose documents the evaluator is not given, aside: CDK's providers, RDS, Backup).
    others = [
        lid
        for stack in deployment.stacks
        for lid, body in deployment.resources(stack, "AWS::IAM::Role").items()
        if lid != raw
        and not body["Properties"].get("ManagedPolicyArns")
        and _allowed(
            deployment,
            _role_caller(deployment, deployment.role_arn(stack, lid)),
            "iam:PassRole",
            stack_role.principal.value,
            **to_cloudformation,
        )
    ]
    assert others == []


def test_only_the_release_state_machine_may_act_as_its_role(profile: Synthesized) -> None:
    """Its trust names the state machine by its fixed name and the account (Step Functions
    developer guide, "Cross-service confused deputy prevention"): another state machine of the
    account, or one of another account, gets nothing of the release's grants."""
    deployment = deployment_of(profile)
    stack = profile.stack_name(DELIVERY)
    ((machine_id, machine),) = deployment.resources(stack, "AWS::StepFunctions::StateMachine").items()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    role_arn = deployment.role_arn(stack, role_id)
    trust = NamedPolicy(
        name=f"{stack}/{role_id} trust",
        document=deployment.resolve(
            stack, deployment.resource(stack, role_id)["Properties"]["AssumeRolePolicyDocument"]
        ),
    )
    own = deployment.ref(stack, machine_id)
    assert own.endswith(f":stateMachine:{profile.spec.release_state_machine_name}")
    other_account = "444455556666"

    def assume(source_arn: str, source_account: str) -> bool:
        request = Request(
            principal=Principal("Service", "states.amazonaws.com"),
            action="sts:AssumeRole",
            resource=role_arn,
            context={"aws:SourceArn": source_arn, "aws:SourceAccount": source_account},
        )
        return evaluate(request, account=deployment.account, identity_policies=[], resource_policy=trust).allowed

    assert assume(own, deployment.account)
    assert not assume(own.rsplit(":", 1)[0] + ":another-state-machine", deployment.account)
    assert not assume(own.replace(deployment.account, other_account), other_account)


def test_a_tag_update_replaces_task_definitions_updates_services_and_runs_the_image_check(
    profile: Synthesized,
) -> None:
    """What new tags change in the compute stack, read off its template: each service's task
    definition (replaced: its containers are create-only), each service (updated in place), and
    the image check; the scaling targets read only the service's name, which an update keeps."""
    deployment = deployment_of(profile)
    compute = profile.stack_name(COMPUTE)
    parameters = [image_tag_parameter(s.name) for s in profile.spec.services]
    changed = changed_resources(deployment, compute, parameters)
    expected = {task_definition(profile, s)[0]: True for s in profile.spec.services}
    services = {lid: body["Properties"] for lid, body in deployment.resources(compute, "AWS::ECS::Service").items()}
    for service in profile.spec.services:
        (lid,) = [lid for lid, props in services.items() if props == ecs_service(profile, service)]
        expected[lid] = False
    checks = deployment.resources(compute, "Custom::ImagesPresent")
    assert len(checks) == 1
    expected.update(dict.fromkeys(checks, False))
    assert changed == expected


def test_the_ledger_holds_every_call_of_a_tag_update_and_the_stack_role_allows_exactly_those(
    profile: Synthesized,
) -> None:
    """Each service's new task definition registered and its service updated, the image check's
    function invoked, the roles passed, as CloudFormation acting as the stack role; each allowed;
    and the role allows no action the update does not call."""
    deployment, stack_role = _stack_role(profile)
    entries = [e for e in ledger_of(profile, deployment) if isinstance(e, Entry) and e.caller.role == stack_role.role]
    assert check_ledger(deployment, entries) == []
    for service in profile.spec.services:
        _, props, _ = task_definition(profile, service)
        family = f":task-definition/{props['Family']}:"
        assert any(e.action == "ecs:RegisterTaskDefinition" and family in e.resource for e in entries), service.name
        passes = [e.context.get("iam:PassedToService") for e in entries if e.action == "iam:PassRole"]
        own = [
            e
            for e in entries
            if e.action == "iam:PassRole" and e.purpose.endswith(task_definition(profile, service)[0])
        ]
        assert len(own) == 2, f"{service.name}: its task role and execution role passed to ECS tasks"
        shifts = any("AdvancedConfiguration" in b for b in ecs_service(profile, service).get("LoadBalancers", []))
        assert shifts <= ("ecs.amazonaws.com" in passes), f"{service.name} shifts traffic with a role the update passes"
    assert {e.action for e in entries} >= {"ecs:UpdateService", "ecs:DeregisterTaskDefinition", "lambda:InvokeFunction"}
    assert stack_role.role is not None
    granted = {
        action
        for policy in deployment.identity_policies(*stack_role.role)
        for statement in policy.document["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    assert granted == {e.action for e in entries}


Probe = tuple[str, str, dict[str, str]]


def _escalations(synth: Synthesized, deployment: Deployment) -> Iterator[Probe]:
    """What a new template body could ask CloudFormation for, beyond new tags: every action on
    resources of the platform that the tag update does not touch (read off the templates)."""
    account, partition = deployment.account, deployment.partition
    bootstrap = _bootstrap_execution_role(synth, deployment)
    yield "iam:CreateRole", f"arn:{partition}:iam::{account}:role/escalated", {}
    yield "iam:CreatePolicy", f"arn:{partition}:iam::{account}:policy/escalated", {}
    yield "iam:PassRole", bootstrap, {"iam:PassedToService": CLOUDFORMATION}
    yield "sts:AssumeRole", bootstrap, {}
    yield (
        "ec2:AuthorizeSecurityGroupIngress",
        f"arn:{partition}:ec2:{deployment.region}:{account}:security-group/sg-0",
        {},
    )
    yield from _role_escalations(synth, deployment)
    yield from _resource_escalations(synth, deployment)


def _role_escalations(synth: Synthesized, deployment: Deployment) -> Iterator[Probe]:
    """Changing any role of the platform, or passing one the services do not run as."""
    compute = synth.stack_name(COMPUTE)
    released_roles = set()
    for body in deployment.resources(compute, "AWS::ECS::TaskDefinition").values():
        props = deployment.resolve(compute, body["Properties"])
        released_roles |= {props["TaskRoleArn"], props["ExecutionRoleArn"]}
    for stack in deployment.stacks:
        for lid in deployment.resources(stack, "AWS::IAM::Role"):
            role = deployment.role_arn(stack, lid)
            for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"):
                yield action, role, {}
            if role not in released_roles:
                yield "iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                yield "iam:PassRole", role, {"iam:PassedToService": CLOUDFORMATION}


def _resource_escalations(synth: Synthesized, deployment: Deployment) -> Iterator[Probe]:
    """Reading the platform's data, or changing what a tag update does not touch."""
    partition, compute = deployment.partition, synth.stack_name(COMPUTE)
    checks = {
        deployment.resolve(compute, body["Properties"]["ServiceToken"])
        for body in deployment.resources(compute, "Custom::ImagesPresent").values()
    }
    for stack in deployment.stacks:
        for lid in deployment.resources(stack, "AWS::S3::Bucket"):
            bucket = deployment.ref(stack, lid)
            yield "s3:GetObject", f"arn:{partition}:s3:::{bucket}/any", {}
            yield "s3:PutBucketPolicy", f"arn:{partition}:s3:::{bucket}", {}
        for lid in deployment.resources(stack, "AWS::KMS::Key"):
            yield "kms:Decrypt", deployment.get_att(stack, lid, "Arn"), {}
        for lid in deployment.resources(stack, "AWS::SecretsManager::Secret"):
            yield "secretsmanager:GetSecretValue", deployment.ref(stack, lid), {}
        for lid in deployment.resources(stack, "AWS::RDS::DBInstance"):
            yield "secretsmanager:GetSecretValue", deployment.get_att(stack, lid, "MasterUserSecret.SecretArn"), {}
        if stack != compute:
            for lid in deployment.resources(stack, "AWS::ECS::Service"):
                yield "ecs:UpdateService", deployment.ref(stack, lid), {}
            for lid in deployment.resources(stack, "AWS::ECS::TaskDefinition"):
                yield "ecs:RegisterTaskDefinition", deployment.ref(stack, lid), {}
        for lid in deployment.resources(stack, "AWS::Lambda::Function"):
            if deployment.get_att(stack, lid, "Arn") not in checks:
                yield "lambda:InvokeFunction", deployment.get_att(stack, lid, "Arn"), {}
        yield "cloudformation:UpdateStack", deployment.resolve(stack, {"Ref": "AWS::StackId"}), {}


def test_a_new_template_body_gains_nothing_the_stack_role_cannot_do(profile: Synthesized) -> None:
    """The release's role may still UpdateStack the compute stack with any template body: acting
    as the stack role, CloudFormation can create no role or policy, pass no role but the services'
    own to ECS, read no bucket, key or secret, and touch nothing of another stack."""
    deployment, stack_role = _stack_role(profile)
    probes = list(_escalations(profile, deployment))
    assert len(probes) > 20
    allowed = [
        f"{action} on {resource}"
        for action, resource, context in probes
        if _allowed(deployment, stack_role, action, resource, **context)
    ]
    assert allowed == []
