"""The template resolver plays CloudFormation faithfully and fails loudly where it cannot."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from aws_model.cloudformation import Deployment, TemplateError
from aws_model.iam import NamedPolicy, Principal, Request, UnsupportedPolicy, evaluate

ACCOUNT = "111122223333"


def one_stack(resources: dict[str, Any], **sections: Any) -> Deployment:
    return Deployment({"app": {"Resources": resources, **sections}})


def resolve(value: Any, resources: dict[str, Any] | None = None, **sections: Any) -> Any:
    return one_stack(resources or {}, **sections).resolve("app", value)


ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}}
BUCKET = {"Type": "AWS::S3::Bucket"}
DATABASE = {
    "Type": "AWS::RDS::DBInstance",
    "Properties": {"DBInstanceIdentifier": "Dev-Postgres", "Engine": "postgres", "ManageMasterUserPassword": True},
}


# --- Intrinsics --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"Ref": "AWS::AccountId"}, ACCOUNT, id="AccountId"),
        pytest.param({"Ref": "AWS::Region"}, "us-east-1", id="Region"),
        pytest.param({"Ref": "AWS::Partition"}, "aws", id="Partition"),
        pytest.param({"Ref": "AWS::URLSuffix"}, "amazonaws.com", id="URLSuffix"),
        pytest.param({"Ref": "AWS::StackName"}, "app", id="StackName"),
        pytest.param({"Ref": "BootstrapVersion"}, "resolved-ssm:/cdk-bootstrap/hnb659fds/version", id="ssm-parameter"),
        pytest.param({"Ref": "Size"}, "3", id="plain-parameter-default"),
        pytest.param({"Ref": "Zones"}, ["a", "b"], id="list-parameter"),
    ],
)
def test_ref_resolves_pseudo_parameters_and_parameter_defaults(value: Any, expected: Any) -> None:
    parameters = {
        "BootstrapVersion": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/cdk-bootstrap/hnb659fds/version",
        },
        "Size": {"Type": "Number", "Default": 3},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
    }
    assert resolve(value, Parameters=parameters) == expected


def test_stack_id_is_an_arn_of_the_stack() -> None:
    stack_id = resolve({"Ref": "AWS::StackId"})
    assert re.fullmatch(rf"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/app/[0-9a-f-]{{36}}", stack_id)


def test_no_value_drops_the_key_or_the_list_element() -> None:
    value = {"Keep": "x", "Drop": {"Ref": "AWS::NoValue"}, "List": ["a", {"Ref": "AWS::NoValue"}, "b"]}
    assert resolve(value) == {"Keep": "x", "List": ["a", "b"]}


def test_get_att_takes_the_list_and_the_dotted_string_forms() -> None:
    resources = {"Db": DATABASE, "Bucket": BUCKET}
    deployment = one_stack(resources)
    assert deployment.resolve("app", {"Fn::GetAtt": "Db.Endpoint.Address"}) == deployment.get_att(
        "app", "Db", "Endpoint.Address"
    )
    assert deployment.resolve("app", {"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::" + deployment.ref(
        "app", "Bucket"
    )


def test_join_select_split_and_base64_compose_as_in_cloudformation() -> None:
    resources = {"Lb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Name": "edge"}}}
    deployment = one_stack(resources)
    # CDK builds ALB metric dimensions this way: app/NAME/ID from the load balancer ARN.
    dimension = {
        "Fn::Join": [
            "/",
            [{"Fn::Select": [i, {"Fn::Split": ["/", {"Ref": "Lb"}]}]} for i in (1, 2, 3)],
        ]
    }
    assert deployment.resolve("app", dimension) == deployment.get_att("app", "Lb", "LoadBalancerFullName")
    assert deployment.resolve("app", {"Fn::Base64": {"Fn::Join": ["", ["a", "b"]]}}) == "YWI="


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        pytest.param("arn:${AWS::Partition}:s3:::${Name}-${AWS::Region}", "arn:aws:s3:::cfg-us-east-1", id="params"),
        pytest.param("${!Literal} and ${Name}", "${Literal} and cfg", id="escaped-literal"),
        pytest.param(["${Greeting}, ${Name}", {"Greeting": {"Ref": "AWS::AccountId"}}], f"{ACCOUNT}, cfg", id="map"),
        pytest.param("${Db.Endpoint.Port}", "5432", id="resource-attribute"),
    ],
)
def test_sub_replaces_parameters_attributes_and_pseudo_parameters(argument: Any, expected: str) -> None:
    parameters = {"Name": {"Type": "String", "Default": "cfg"}}
    assert resolve({"Fn::Sub": argument}, {"Db": DATABASE}, Parameters=parameters) == expected


def test_sub_with_a_resource_name_gives_its_ref() -> None:
    deployment = one_stack({"Bucket": BUCKET})
    assert deployment.resolve("app", {"Fn::Sub": "${Bucket}/x"}) == deployment.ref("app", "Bucket") + "/x"


def test_get_azs_lists_three_zones_of_the_region() -> None:
    assert resolve({"Fn::GetAZs": ""}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert resolve({"Fn::Select": [1, {"Fn::GetAZs": "eu-west-1"}]}) == "eu-west-1b"


def test_find_in_map_reads_template_mappings_and_the_default_value() -> None:
    mappings = {"Ports": {"postgres": {"port": "5432"}}}
    assert resolve({"Fn::FindInMap": ["Ports", "postgres", "port"]}, Mappings=mappings) == "5432"
    fallback = {"Fn::FindInMap": ["Ports", "mysql", "port", {"DefaultValue": "3306"}]}
    assert resolve(fallback, Mappings=mappings) == "3306"
    with pytest.raises(TemplateError, match="Fn::FindInMap found no Ports/mysql/port"):
        resolve({"Fn::FindInMap": ["Ports", "mysql", "port"]}, Mappings=mappings)


CONDITIONS = {
    "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
    "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
    "DevInUsEast": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]},
    "AnyOf": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "DevInUsEast"}]},
    "Unknowable": {"Fn::Contains": [["a"], "a"]},
}
ENV = {"Env": {"Type": "String", "Default": "dev"}}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [("IsProd", "no"), ("IsDev", "yes"), ("DevInUsEast", "yes"), ("AnyOf", "yes")],
)
def test_if_evaluates_template_conditions(condition: str, expected: str) -> None:
    value = {"Fn::If": [condition, "yes", "no"]}
    assert resolve(value, Conditions=CONDITIONS, Parameters=ENV) == expected


def test_a_condition_that_cannot_be_evaluated_raises() -> None:
    with pytest.raises(TemplateError, match="condition Unknowable uses Fn::Contains, which cannot be evaluated"):
        resolve({"Fn::If": ["Unknowable", "a", "b"]}, Conditions=CONDITIONS, Parameters=ENV)


def test_a_resource_whose_condition_is_false_does_not_exist() -> None:
    resources = {"ProdBucket": {**BUCKET, "Condition": "IsProd"}, "Bucket": BUCKET}
    deployment = one_stack(resources, Conditions=CONDITIONS, Parameters=ENV)
    assert list(deployment.resources("app")) == ["Bucket"]
    with pytest.raises(TemplateError, match="app/ProdBucket is not created: its condition is false"):
        deployment.ref("app", "ProdBucket")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "intrinsic function Fn::Cidr is not supported", id="fn"),
        pytest.param({"Fn::Equals": ["a", "a"]}, "condition function Fn::Equals used outside", id="condition-fn"),
        pytest.param({"Ref": "Nope"}, "Ref to unknown name Nope", id="unknown-ref"),
        pytest.param({"Ref": "AWS::Nope"}, "pseudo parameter AWS::Nope is not supported", id="unknown-pseudo"),
        pytest.param({"Fn::GetAtt": ["Bucket", "Nope"]}, "attribute Nope of AWS::S3::Bucket is not known", id="att"),
        pytest.param({"Fn::GetAtt": ["Hook", "Result"]}, "attribute Result of Custom::Hook is not known", id="custom"),
        pytest.param({"Fn::GetAtt": ["Missing", "Arn"]}, "stack app has no resource Missing", id="missing"),
        pytest.param({"Fn::Select": [5, ["a"]]}, "index 5 is outside a list of 1", id="select-range"),
        pytest.param({"Fn::Join": ["", [["nested"]]]}, "resolved to \\[", id="join-non-string"),
        pytest.param({"Fn::GetAtt": ["Db2", "MasterUserSecret.SecretArn"]}, "ManageMasterUserPassword", id="no-secret"),
    ],
)
def test_anything_unresolvable_raises_a_template_error_naming_it(value: Any, message: str) -> None:
    resources = {
        "Bucket": BUCKET,
        "Hook": {"Type": "Custom::Hook"},
        "Db2": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres"}},
    }
    with pytest.raises(TemplateError, match=message):
        resolve(value, resources)


def test_a_circular_reference_raises_instead_of_recursing() -> None:
    resources = {
        "A": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Join": ["", [{"Ref": "B"}]]}}},
        "B": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Ref": "A"}}},
    }
    with pytest.raises(TemplateError, match="circular reference"):
        one_stack(resources).ref("app", "A")


# --- Physical ids and attributes ---------------------------------------------------------------

R = r"[A-Za-z0-9-]+"
PREFIX = rf"arn:aws:([a-z0-9-]+):us-east-1:{ACCOUNT}:"


@pytest.mark.parametrize(
    ("resource", "attribute", "pattern"),
    [
        (ROLE, "Ref", rf"app-Subject-{R}"),
        (ROLE, "Arn", rf"arn:aws:iam::{ACCOUNT}:role/app-Subject-{R}"),
        (ROLE, "RoleId", r"AROA[A-Z0-9]{17}"),
        ({"Type": "AWS::IAM::ManagedPolicy"}, "Ref", rf"arn:aws:iam::{ACCOUNT}:policy/app-Subject-{R}"),
        ({"Type": "AWS::IAM::InstanceProfile"}, "Arn", rf"arn:aws:iam::{ACCOUNT}:instance-profile/app-Subject-{R}"),
        (BUCKET, "Ref", r"app-subject-[a-z0-9]{12}"),
        (BUCKET, "Arn", r"arn:aws:s3:::app-subject-[a-z0-9]{12}"),
        (BUCKET, "DomainName", r"app-subject-[a-z0-9]{12}\.s3\.amazonaws\.com"),
        (BUCKET, "RegionalDomainName", r"app-subject-[a-z0-9]{12}\.s3\.us-east-1\.amazonaws\.com"),
        ({"Type": "AWS::KMS::Key"}, "Ref", r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        ({"Type": "AWS::KMS::Key"}, "Arn", rf"{PREFIX}key/[0-9a-f-]{{36}}"),
        ({"Type": "AWS::Logs::LogGroup"}, "Arn", rf"{PREFIX}log-group:app-Subject-{R}:\*"),
        ({"Type": "AWS::SNS::Topic"}, "Ref", rf"{PREFIX}app-Subject-{R}"),
        ({"Type": "AWS::SNS::Topic"}, "TopicName", rf"app-Subject-{R}"),
        ({"Type": "AWS::ECR::Repository"}, "Arn", rf"{PREFIX}repository/app-subject-[a-z0-9]{{12}}"),
        (
            {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "dev/backend"}},
            "RepositoryUri",
            rf"{ACCOUNT}\.dkr\.ecr\.us-east-1\.amazonaws\.com/dev/backend",
        ),
        ({"Type": "AWS::SecretsManager::Secret"}, "Ref", rf"{PREFIX}secret:Subject-[A-Za-z0-9]{{12}}-[A-Za-z0-9]{{6}}"),
        (DATABASE, "Ref", r"dev-postgres"),
        (DATABASE, "Endpoint.Address", r"dev-postgres\.[a-z0-9]{12}\.us-east-1\.rds\.amazonaws\.com"),
        (DATABASE, "Endpoint.Port", r"5432"),
        (DATABASE, "DbiResourceId", r"db-[A-Z0-9]{26}"),
        (DATABASE, "DBInstanceArn", rf"{PREFIX}db:dev-postgres"),
        (DATABASE, "MasterUserSecret.SecretArn", rf"{PREFIX}secret:rds!db-[0-9a-f-]{{36}}-[A-Za-z0-9]{{6}}"),
        ({"Type": "AWS::EFS::FileSystem"}, "Arn", rf"{PREFIX}file-system/fs-[0-9a-f]{{17}}"),
        ({"Type": "AWS::EFS::AccessPoint"}, "Arn", rf"{PREFIX}access-point/fsap-[0-9a-f]{{17}}"),
        ({"Type": "AWS::ECS::Cluster"}, "Arn", rf"{PREFIX}cluster/app-Subject-{R}"),
        (
            {"Type": "AWS::ECS::TaskDefinition", "Properties": {"Family": "backend"}},
            "Ref",
            rf"{PREFIX}task-definition/backend:1",
        ),
        ({"Type": "AWS::Lambda::Function"}, "Arn", rf"{PREFIX}function:app-Subject-{R}"),
        ({"Type": "AWS::StepFunctions::StateMachine"}, "Ref", rf"{PREFIX}stateMachine:app-Subject-{R}"),
        ({"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "cpu"}}, "Arn", rf"{PREFIX}alarm:cpu"),
        (
            {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Scheme": "internal"}},
            "DNSName",
            r"internal-app-Subject-[A-Z0-9]{12}-\d{10}\.us-east-1\.elb\.amazonaws\.com",
        ),
        (
            {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"Name": "api"}},
            "TargetGroupFullName",
            r"targetgroup/api/[0-9a-f]{16}",
        ),
        ({"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}, "CidrBlock", r"10\.0\.0\.0/16"),
        ({"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}, "Ref", r"vpc-[0-9a-f]{17}"),
        ({"Type": "AWS::EC2::Subnet"}, "Ref", r"subnet-[0-9a-f]{17}"),
        ({"Type": "AWS::EC2::SecurityGroup"}, "GroupId", r"sg-[0-9a-f]{17}"),
        ({"Type": "AWS::ServiceDiscovery::PrivateDnsNamespace"}, "Id", r"ns-[a-z0-9]{16}"),
        ({"Type": "AWS::ServiceDiscovery::Service"}, "Arn", rf"{PREFIX}service/srv-[a-z0-9]{{16}}"),
        ({"Type": "AWS::CloudFront::Distribution"}, "Ref", r"E[A-Z0-9]{13}"),
        ({"Type": "AWS::CloudFront::Distribution"}, "DomainName", r"d[a-z0-9]{13}\.cloudfront\.net"),
        ({"Type": "AWS::CloudFront::VpcOrigin"}, "Arn", rf"arn:aws:cloudfront::{ACCOUNT}:vpcorigin/vo_\w{{22}}"),
        (
            {"Type": "AWS::APS::Workspace"},
            "PrometheusEndpoint",
            r"https://aps-workspaces\.us-east-1\.amazonaws\.com/workspaces/ws-[0-9a-f-]{36}/",
        ),
        (
            {"Type": "AWS::WAFv2::WebACL", "Properties": {"Scope": "CLOUDFRONT", "Name": "edge"}},
            "Arn",
            rf"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/edge/[0-9a-f-]{{36}}",
        ),
        (
            {"Type": "AWS::Backup::BackupVault", "Properties": {"BackupVaultName": "vault"}},
            "BackupVaultArn",
            rf"{PREFIX}backup-vault:vault",
        ),
        ({"Type": "AWS::EC2::RouteTable"}, "Ref", r"rtb-[0-9a-f]{17}"),
        ({"Type": "Custom::Anything"}, "Ref", r"Subject-physical-[a-z0-9]{12}"),
    ],
)
def test_physical_ids_and_attributes_have_the_deployed_shape(
    resource: dict[str, Any], attribute: str, pattern: str
) -> None:
    value = one_stack({"Subject": resource}).resolve(
        "app", {"Fn::GetAtt": ["Subject", attribute]} if attribute != "Ref" else {"Ref": "Subject"}
    )
    assert re.fullmatch(pattern, value), value


@pytest.mark.parametrize(
    ("resource_type", "name_property", "given", "expected"),
    [
        ("AWS::IAM::Role", "RoleName", "ci-deployer", "ci-deployer"),
        ("AWS::S3::Bucket", "BucketName", "my-bucket", "my-bucket"),
        ("AWS::Logs::LogGroup", "LogGroupName", "/ecs/backend", "/ecs/backend"),
        ("AWS::SNS::Topic", "TopicName", "alarms", f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms"),
        ("AWS::ECR::Repository", "RepositoryName", "dev/backend", "dev/backend"),
        ("AWS::Lambda::Function", "FunctionName", "hook", "hook"),
        ("AWS::ECS::Cluster", "ClusterName", "platform", "platform"),
        ("AWS::RDS::DBInstance", "DBInstanceIdentifier", "Dev-Postgres", "dev-postgres"),
        ("AWS::CloudWatch::Alarm", "AlarmName", "cpu-high", "cpu-high"),
        ("AWS::Backup::BackupVault", "BackupVaultName", "vault", "vault"),
        (
            "AWS::StepFunctions::StateMachine",
            "StateMachineName",
            "deploy",
            f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:deploy",
        ),
        (
            "AWS::SecretsManager::Secret",
            "Name",
            "grafana",
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:grafana-",
        ),
    ],
)
def test_explicit_names_are_honoured_where_cloudformation_honours_them(
    resource_type: str, name_property: str, given: str, expected: str
) -> None:
    deployment = one_stack({"Subject": {"Type": resource_type, "Properties": {name_property: given}}})
    assert deployment.ref("app", "Subject").startswith(expected)


def test_physical_ids_are_deterministic_and_distinct_per_logical_id() -> None:
    resources = {"One": BUCKET, "Two": BUCKET}
    first, second = one_stack(resources), one_stack(resources)
    assert first.ref("app", "One") == second.ref("app", "One")
    assert first.ref("app", "One") != first.ref("app", "Two")
    assert Deployment({"other": {"Resources": resources}}).ref("other", "One") != first.ref("app", "One")


def test_an_ecs_service_arn_names_the_cluster_from_its_cluster_property() -> None:
    resources = {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "platform"}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {"Cluster": {"Ref": "Cluster"}, "ServiceName": "api"}},
        "ByArn": {"Type": "AWS::ECS::Service", "Properties": {"Cluster": {"Fn::GetAtt": ["Cluster", "Arn"]}}},
    }
    deployment = one_stack(resources)
    assert deployment.ref("app", "Service") == f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/platform/api"
    assert deployment.ref("app", "ByArn").startswith(f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/platform/app-ByArn-")
    assert deployment.get_att("app", "Service", "Name") == "api"


def test_account_region_and_partition_come_from_the_deployment() -> None:
    deployment = Deployment(
        {"app": {"Resources": {"Key": {"Type": "AWS::KMS::Key"}}}}, account="444455556666", region="eu-west-1"
    )
    assert deployment.get_att("app", "Key", "Arn").startswith("arn:aws:kms:eu-west-1:444455556666:key/")


# --- Several stacks ----------------------------------------------------------------------------

PRODUCER = {
    "Resources": {
        "TaskRole": ROLE,
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alarms"}},
    },
    "Outputs": {
        "RoleName": {"Value": {"Ref": "TaskRole"}},
        "TopicArn": {"Value": {"Ref": "Topic"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-topic"}}},
    },
}
CONSUMER = {
    "Resources": {
        "Publish": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "Publish",
                "Roles": [{"Fn::GetStackOutput": {"StackName": "producer", "OutputName": "RoleName"}}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Fn::ImportValue": "producer-topic"}}
                    ],
                },
            },
        }
    }
}


def test_a_stack_output_is_read_across_regions_where_the_producer_is() -> None:
    """CDK's cross-region weak references: Fn::GetStackOutput names the producer's region, and a
    stack of another region resolves its pseudo parameters and ARNs in its own."""
    deployment = Deployment(
        {"producer": PRODUCER, "consumer": CONSUMER}, stack_regions={"producer": "us-east-1"}, region="eu-west-1"
    )
    reads = {"Fn::GetStackOutput": {"StackName": "producer", "Region": "us-east-1", "OutputName": "RoleName"}}
    assert deployment.resolve("consumer", reads) == deployment.ref("producer", "TaskRole")
    assert deployment.resolve("producer", {"Ref": "AWS::Region"}) == "us-east-1"
    assert deployment.resolve("consumer", {"Ref": "AWS::Region"}) == "eu-west-1"
    assert deployment.region_of("producer") == "us-east-1"
    with pytest.raises(TemplateError, match="looks for producer in eu-west-1, but it is in us-east-1"):
        deployment.resolve("consumer", {"Fn::GetStackOutput": {"StackName": "producer", "OutputName": "RoleName"}})
    with pytest.raises(ValueError, match="stack_regions names stacks not in the deployment: elsewhere"):
        Deployment({"producer": PRODUCER}, stack_regions={"elsewhere": "us-east-1"})


def test_get_stack_output_and_import_value_cross_stacks() -> None:
    deployment = Deployment({"producer": PRODUCER, "consumer": CONSUMER})
    role_name = deployment.ref("producer", "TaskRole")
    get_output = {"Fn::GetStackOutput": {"StackName": "producer", "Region": "us-east-1", "OutputName": "RoleName"}}
    assert deployment.resolve("consumer", get_output) == role_name
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms"
    assert deployment.resolve("consumer", {"Fn::ImportValue": "producer-topic"}) == topic
    (attached,) = deployment.identity_policies("producer", "TaskRole")
    assert attached.name == "consumer/Publish"
    assert attached.document["Statement"][0]["Resource"] == topic


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Fn::GetStackOutput": {"StackName": "nope", "OutputName": "X"}}, "names stack nope, not in this deployment"),
        ({"Fn::GetStackOutput": {"StackName": "producer", "OutputName": "Nope"}}, "stack producer has no output Nope"),
        (
            {"Fn::GetStackOutput": {"StackName": "producer", "OutputName": "RoleName", "Region": "eu-west-1"}},
            "looks for producer in eu-west-1, but it is in us-east-1",
        ),
        ({"Fn::ImportValue": "nope"}, "Fn::ImportValue nope matches no export"),
    ],
)
def test_unknown_stacks_outputs_and_exports_raise(value: Any, message: str) -> None:
    deployment = Deployment({"producer": PRODUCER, "consumer": CONSUMER})
    with pytest.raises(TemplateError, match=message):
        deployment.resolve("consumer", value)


# --- Identity and resource policies ------------------------------------------------------------


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ROLE_WITH_POLICIES = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": _document(),
        "Policies": [
            {
                "PolicyName": "Inline",
                "PolicyDocument": _document(
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}
                ),
            }
        ],
        "ManagedPolicyArns": [{"Ref": "Managed"}],
    },
}
MANAGED = {
    "Type": "AWS::IAM::ManagedPolicy",
    "Properties": {
        "Roles": [{"Ref": "Role"}],  # attached both ways: reported once
        "PolicyDocument": _document(
            {"Effect": "Allow", "Action": "ecr:*", "Resource": {"Fn::GetAtt": ["Repo", "Arn"]}}
        ),
    },
}
REPO = {
    "Type": "AWS::ECR::Repository",
    "Properties": {
        "RepositoryName": "backend",
        "RepositoryPolicyText": _document(
            {"Effect": "Allow", "Action": "ecr:BatchGetImage", "Principal": {"AWS": {"Fn::GetAtt": ["Role", "Arn"]}}}
        ),
    },
}


def test_identity_policies_gather_inline_attached_and_managed_policies_resolved() -> None:
    deployment = one_stack({"Role": ROLE_WITH_POLICIES, "Managed": MANAGED, "Bucket": BUCKET, "Repo": REPO})
    policies = deployment.identity_policies("app", "Role")
    assert [p.name for p in policies] == ["app/Role/Inline", "app/Managed"]
    bucket_arn = deployment.get_att("app", "Bucket", "Arn")
    assert policies[0].document["Statement"][0]["Resource"] == f"{bucket_arn}/*"
    assert policies[1].document["Statement"][0]["Resource"] == f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/backend"


AWS_MANAGED = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def test_an_aws_managed_policy_is_refused_unless_its_document_is_supplied() -> None:
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _document(),
            "ManagedPolicyArns": [
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                        ],
                    ]
                }
            ],
        },
    }
    with pytest.raises(
        UnsupportedPolicy, match=r"uses AWS-managed policy .*AWSLambdaBasicExecutionRole; pass its document"
    ):
        one_stack({"Role": role}).identity_policies("app", "Role")
    known = {AWS_MANAGED: _document({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"})}
    deployment = Deployment({"app": {"Resources": {"Role": role}}}, aws_managed_policies=known)
    assert [p.name for p in deployment.identity_policies("app", "Role")] == [AWS_MANAGED]


def test_identity_policies_are_only_for_roles() -> None:
    with pytest.raises(TemplateError, match="app/Bucket is a AWS::S3::Bucket, not an AWS::IAM::Role"):
        one_stack({"Bucket": BUCKET}).identity_policies("app", "Bucket")


def _policy_stack() -> Deployment:
    tls_deny = {
        "Effect": "Deny",
        "Action": "*",
        "Principal": {"AWS": "*"},
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    resources = {
        "Role": ROLE_WITH_POLICIES,
        "Managed": MANAGED,
        "Repo": REPO,
        "Bucket": BUCKET,
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": _document({**tls_deny, "Action": "s3:*"})},
        },
        "Topic": {"Type": "AWS::SNS::Topic"},
        "TopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": _document(tls_deny)},
        },
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": _document(tls_deny)}},
        "Fs": {"Type": "AWS::EFS::FileSystem", "Properties": {"FileSystemPolicy": _document(tls_deny)}},
        "Secret": {"Type": "AWS::SecretsManager::Secret"},
        "SecretPolicy": {
            "Type": "AWS::SecretsManager::ResourcePolicy",
            "Properties": {"SecretId": {"Ref": "Secret"}, "ResourcePolicy": _document(tls_deny)},
        },
        "LogsPolicy": {
            "Type": "AWS::Logs::ResourcePolicy",
            "Properties": {
                "PolicyName": "delivery",
                "PolicyDocument": {
                    "Fn::Join": ["", ['{"Version":"2012-10-17","Statement":[', json.dumps(tls_deny), "]}"]]
                },
            },
        },
        "Bare": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "bare"}},
    }
    return one_stack(resources)


@pytest.mark.parametrize(
    ("logical_id", "attribute", "suffix", "policy_name"),
    [
        ("Bucket", "Arn", "", "app/BucketPolicy"),
        ("Bucket", "Arn", "/prometheus/prometheus.yml", "app/BucketPolicy"),
        ("Topic", "Ref", "", "app/TopicPolicy"),
        ("Key", "Arn", "", "app/Key"),
        ("Fs", "Arn", "", "app/Fs"),
        ("Repo", "Arn", "", "app/Repo"),
        ("Secret", "Ref", "", "app/SecretPolicy"),
        ("Bare", "Ref", "", None),
    ],
)
def test_resource_policy_finds_the_policy_governing_an_arn(
    logical_id: str, attribute: str, suffix: str, policy_name: str | None
) -> None:
    deployment = _policy_stack()
    arn = deployment.ref("app", logical_id) if attribute == "Ref" else deployment.get_att("app", logical_id, attribute)
    found = deployment.resource_policy(arn + suffix)
    assert (found.name if found else None) == policy_name
    if found is not None:
        assert "Fn::" not in json.dumps(found.document)


def test_a_logs_resource_policy_is_parsed_from_its_json_string_for_any_log_group() -> None:
    found = _policy_stack().resource_policy(f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/vendedlogs/x:*")
    assert found is not None
    assert found.name == "app/LogsPolicy"
    assert found.document["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_two_policies_for_one_resource_are_ambiguous() -> None:
    deployment = _policy_stack()
    topic_policy = deployment.resource("app", "TopicPolicy")
    doubled = one_stack({**deployment.resources("app"), "Again": topic_policy})
    with pytest.raises(TemplateError, match="is governed by several policies"):
        doubled.resource_policy(doubled.ref("app", "Topic"))


def test_resolved_policies_feed_the_evaluator() -> None:
    deployment = _policy_stack()
    role_arn = deployment.role_arn("app", "Role")
    repo = deployment.get_att("app", "Repo", "Arn")
    request = Request(Principal("AWS", role_arn), "ecr:BatchGetImage", repo, {"aws:SecureTransport": True})
    identity = deployment.identity_policies("app", "Role")
    resource_policy = deployment.resource_policy(repo)
    decision = evaluate(request, account=ACCOUNT, identity_policies=identity, resource_policy=resource_policy)
    assert decision.allowed
    assert decision.reason == "allowed by app/Repo statement 0"
    only_identity = evaluate(request, account=ACCOUNT, identity_policies=identity, resource_policy=None)
    assert only_identity.reason == "allowed by app/Managed statement 0"
    assert isinstance(resource_policy, NamedPolicy)
