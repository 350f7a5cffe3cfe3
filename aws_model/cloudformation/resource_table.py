"""The resource table: which builder gives a resource type its Ref and attributes, which types
carry their own resource policy, and the stable Ref any other type gets."""

from __future__ import annotations

from collections.abc import Callable

from aws_model.cloudformation.attributes import compute, identity, networking, storage, web
from aws_model.cloudformation.physical import Resource
from aws_model.cloudformation.values import LOWER, UPPER, Facts, constant

BUILDERS: dict[str, Callable[[Resource], Facts]] = {
    "AWS::IAM::Role": identity.role,
    "AWS::IAM::ManagedPolicy": identity.managed_policy,
    "AWS::IAM::InstanceProfile": identity.instance_profile,
    "AWS::IAM::Policy": lambda r: {"Ref": constant(f"{r.stack[:5]}-{r.logical_id[:5]}-{r.token(13, UPPER)}")},
    "AWS::S3::Bucket": storage.bucket,
    "AWS::KMS::Key": storage.kms_key,
    "AWS::KMS::Alias": lambda r: {"Ref": lambda: r.required("AliasName")},
    "AWS::Logs::LogGroup": storage.log_group,
    "AWS::SNS::Topic": storage.topic,
    "AWS::ECR::Repository": storage.repository,
    "AWS::SecretsManager::Secret": storage.secret,
    "AWS::RDS::DBInstance": storage.db_instance,
    "AWS::RDS::DBSubnetGroup": compute.name_ref("DBSubnetGroupName", lower=True),
    "AWS::RDS::DBParameterGroup": compute.name_ref("DBParameterGroupName", lower=True),
    "AWS::EFS::FileSystem": compute.identified(
        "fs-", 17, attributes=("FileSystemId",), arn=("elasticfilesystem", "file-system/")
    ),
    "AWS::EFS::AccessPoint": compute.identified(
        "fsap-", 17, attributes=("AccessPointId",), arn=("elasticfilesystem", "access-point/")
    ),
    "AWS::EFS::MountTarget": compute.identified("fsmt-", 17),
    "AWS::ECS::Cluster": compute.ecs_cluster,
    "AWS::ECS::Service": compute.ecs_service,
    "AWS::ECS::TaskDefinition": compute.task_definition,
    "AWS::Lambda::Function": compute.function,
    "AWS::StepFunctions::StateMachine": compute.state_machine,
    "AWS::CloudWatch::Alarm": compute.alarm,
    "AWS::CloudWatch::Dashboard": compute.name_ref("DashboardName"),
    "AWS::Events::Rule": compute.events_rule,
    "AWS::SSM::Parameter": compute.name_ref("Name"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": networking.load_balancer,
    "AWS::ElasticLoadBalancingV2::TargetGroup": networking.target_group,
    "AWS::ElasticLoadBalancingV2::Listener": networking.listener,
    "AWS::ElasticLoadBalancingV2::ListenerRule": networking.listener_rule,
    "AWS::EC2::VPC": networking.vpc,
    "AWS::EC2::Subnet": networking.subnet,
    "AWS::EC2::SecurityGroup": networking.security_group,
    "AWS::EC2::InternetGateway": compute.identified("igw-", 17, attributes=("InternetGatewayId",)),
    "AWS::EC2::RouteTable": compute.identified("rtb-", 17, attributes=("RouteTableId",)),
    "AWS::EC2::NatGateway": compute.identified("nat-", 17, attributes=("NatGatewayId",)),
    "AWS::EC2::EIP": networking.elastic_ip,
    "AWS::EC2::Instance": networking.instance,
    "AWS::EC2::LaunchTemplate": networking.launch_template,
    "AWS::EC2::FlowLog": compute.identified("fl-", 17, attributes=("Id",)),
    "AWS::EC2::SecurityGroupIngress": compute.identified("sgr-", 17, attributes=("Id",)),
    "AWS::EC2::SecurityGroupEgress": compute.identified("sgr-", 17, attributes=("Id",)),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": networking.namespace,
    "AWS::ServiceDiscovery::Service": networking.discovery_service,
    "AWS::CloudFront::Distribution": web.distribution,
    "AWS::CloudFront::VpcOrigin": web.vpc_origin,
    "AWS::APS::Workspace": compute.workspace,
    "AWS::WAFv2::WebACL": web.web_acl,
    "AWS::WAFv2::IPSet": web.ip_set,
    "AWS::CloudFront::Function": web.cloudfront_function,
    "AWS::CertificateManager::Certificate": web.certificate,
    "AWS::EC2::VPCEndpoint": compute.identified("vpce-", 17, attributes=("Id",)),
    "AWS::Backup::BackupVault": storage.backup_vault,
    "AWS::Backup::BackupPlan": storage.backup_plan,
    "AWS::Backup::BackupSelection": storage.backup_selection,
}

# Resource types whose policy is a property of the resource itself: (property, attribute giving its ARN).
POLICY_PROPERTIES: dict[str, tuple[str, str]] = {
    "AWS::KMS::Key": ("KeyPolicy", "Arn"),
    "AWS::EFS::FileSystem": ("FileSystemPolicy", "Arn"),
    "AWS::ECR::Repository": ("RepositoryPolicyText", "Arn"),
}


def facts_for(r: Resource) -> Facts:
    builder = BUILDERS.get(r.type)
    if builder is not None:
        return builder(r)
    # Any other type gets a stable Ref and no attributes, so a GetAtt on it fails loudly.
    return {"Ref": constant(f"{r.logical_id}-physical-{r.token(12, LOWER)}")}
