"""The attributes CloudFormation gives resources of Elastic
Load Balancing, EC2 (VPC, subnets, security groups, addresses, instances) and Cloud Map."""

from __future__ import annotations

import string

from aws_model.cloudformation.physical import Resource, named
from aws_model.cloudformation.values import LOWER, UPPER, Facts, TemplateError, constant


def load_balancer(r: Resource) -> Facts:
    name = named(r, "Name", max_len=32)
    kinds = {"application": "app", "network": "net", "gateway": "gwy"}

    def full_name() -> str:
        kind = r.text("Type") or "application"
        if kind not in kinds:
            raise TemplateError(f"{r.stack}/{r.logical_id}: unknown load balancer Type {kind!r}")
        return f"{kinds[kind]}/{name()}/{r.token(16)}"

    def dns_name() -> str:
        internal = "internal-" if r.text("Scheme") == "internal" else ""
        return f"{internal}{name()}-{r.token(10, string.digits)}.{r.region}.elb.amazonaws.com"

    def arn() -> str:
        return r.arn("elasticloadbalancing", f"loadbalancer/{full_name()}")

    return {
        "Ref": arn,
        "LoadBalancerArn": arn,
        "LoadBalancerFullName": full_name,
        "LoadBalancerName": name,
        "DNSName": dns_name,
    }


def target_group(r: Resource) -> Facts:
    name = named(r, "Name", max_len=32)

    def full_name() -> str:
        return f"targetgroup/{name()}/{r.token(16)}"

    def arn() -> str:
        return r.arn("elasticloadbalancing", full_name())

    return {"Ref": arn, "TargetGroupArn": arn, "TargetGroupFullName": full_name, "TargetGroupName": name}


def listener(r: Resource) -> Facts:
    def arn() -> str:
        balancer = r.required("LoadBalancerArn")
        return balancer.replace(":loadbalancer/", ":listener/", 1) + "/" + r.token(16)

    return {"Ref": arn, "ListenerArn": arn}


def listener_rule(r: Resource) -> Facts:
    def arn() -> str:
        listener = r.required("ListenerArn")
        return listener.replace(":listener/", ":listener-rule/", 1) + "/" + r.token(16)

    return {"Ref": arn, "RuleArn": arn}


def vpc(r: Resource) -> Facts:
    ident = constant("vpc-" + r.token(17))
    return {
        "Ref": ident,
        "VpcId": ident,
        "CidrBlock": lambda: r.required("CidrBlock"),
        "DefaultSecurityGroup": constant("sg-" + r.token(17, salt="default-sg")),
        "DefaultNetworkAcl": constant("acl-" + r.token(17, salt="default-acl")),
    }


def subnet(r: Resource) -> Facts:
    ident = constant("subnet-" + r.token(17))
    return {
        "Ref": ident,
        "SubnetId": ident,
        "AvailabilityZone": lambda: r.required("AvailabilityZone"),
        "CidrBlock": lambda: r.required("CidrBlock"),
        "VpcId": lambda: r.required("VpcId"),
    }


def security_group(r: Resource) -> Facts:
    ident = constant("sg-" + r.token(17))
    return {"Ref": ident, "GroupId": ident, "VpcId": lambda: r.required("VpcId")}


def elastic_ip(r: Resource) -> Facts:
    digest = r.token(2, string.digits)
    return {
        "Ref": constant(f"203.0.113.{int(digest) + 1}"),  # documentation range, never a real address
        "PublicIp": constant(f"203.0.113.{int(digest) + 1}"),
        "AllocationId": constant("eipalloc-" + r.token(17)),
    }


def instance(r: Resource) -> Facts:
    return {
        "Ref": constant("i-" + r.token(17)),
        "AvailabilityZone": lambda: r.required("AvailabilityZone"),
        "PrivateIp": constant(f"10.0.{int(r.token(2, string.digits))}.{int(r.token(2, string.digits, 'ip')) + 1}"),
    }


def launch_template(r: Resource) -> Facts:
    ident = constant("lt-" + r.token(17))
    return {
        "Ref": ident,
        "LaunchTemplateId": ident,
        "LatestVersionNumber": constant("1"),
        "DefaultVersionNumber": constant("1"),
    }


def namespace(r: Resource) -> Facts:
    ident = constant("ns-" + r.token(16, LOWER))
    return {
        "Ref": ident,
        "Id": ident,
        "Arn": lambda: r.arn("servicediscovery", f"namespace/{ident()}"),
        "HostedZoneId": constant("Z" + r.token(20, UPPER, "zone")),
    }


def discovery_service(r: Resource) -> Facts:
    ident = constant("srv-" + r.token(16, LOWER))
    return {
        "Ref": ident,
        "Id": ident,
        "Arn": lambda: r.arn("servicediscovery", f"service/{ident()}"),
        "Name": named(r, "Name"),
    }
