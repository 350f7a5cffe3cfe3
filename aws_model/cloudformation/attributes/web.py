"""The attributes CloudFormation gives resources of CloudFront, WAF
and ACM, the distribution's side (a CloudFront web ACL lives in us-east-1 whatever the stack's region)."""

from __future__ import annotations

from aws_model.cloudformation.physical import Resource, named
from aws_model.cloudformation.values import ALNUM, LOWER, UPPER, Facts, TemplateError, constant


def distribution(r: Resource) -> Facts:
    ident = constant("E" + r.token(13, UPPER))
    return {"Ref": ident, "Id": ident, "DomainName": constant(f"d{r.token(13, LOWER, 'domain')}.cloudfront.net")}


def vpc_origin(r: Resource) -> Facts:
    ident = constant("vo_" + r.token(22, ALNUM))
    return {"Ref": ident, "Id": ident, "Arn": lambda: r.arn("cloudfront", f"vpcorigin/{ident()}", regional=False)}


def web_acl(r: Resource) -> Facts:
    name = named(r, "Name", max_len=128)
    ident = constant(r.uuid())

    def arn() -> str:
        scope = r.required("Scope")
        if scope not in ("CLOUDFRONT", "REGIONAL"):
            raise TemplateError(f"{r.stack}/{r.logical_id}: unknown WebACL Scope {scope!r}")
        d = r.deployment
        # CloudFront web ACLs live in us-east-1 under "global", whatever the stack's region.
        region, path = ("us-east-1", "global") if scope == "CLOUDFRONT" else (r.region, "regional")
        return f"arn:{d.partition}:wafv2:{region}:{d.account}:{path}/webacl/{name()}/{ident()}"

    return {
        "Ref": lambda: f"{name()}|{ident()}|{r.required('Scope')}",
        "Arn": arn,
        "Id": ident,
        "LabelNamespace": lambda: f"awswaf:{r.deployment.account}:webacl:{name()}:",
    }


def ip_set(r: Resource) -> Facts:
    name = named(r, "Name", max_len=128)
    ident = constant(r.uuid())

    def arn() -> str:
        d = r.deployment
        region, path = ("us-east-1", "global") if r.required("Scope") == "CLOUDFRONT" else (r.region, "regional")
        return f"arn:{d.partition}:wafv2:{region}:{d.account}:{path}/ipset/{name()}/{ident()}"

    return {"Ref": lambda: f"{name()}|{ident()}|{r.required('Scope')}", "Arn": arn, "Id": ident}


def cloudfront_function(r: Resource) -> Facts:
    def arn() -> str:
        return r.arn("cloudfront", f"function/{r.required('Name')}", regional=False)

    def stage() -> str:
        return "LIVE" if r.prop("AutoPublish") is True else "DEVELOPMENT"

    return {"Ref": arn, "FunctionARN": arn, "FunctionMetadata.FunctionARN": arn, "Stage": stage}


def certificate(r: Resource) -> Facts:
    """ACM returns the certificate's ARN as its Ref, in the region of its stack."""
    return {"Ref": lambda: r.arn("acm", f"certificate/{r.uuid()}")}
