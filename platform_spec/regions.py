"""What the platform must know of its region without looking it up: the ids of the AWS-managed
prefix lists its security groups name. Synth makes no AWS calls, so these are carried here; a
region not listed needs the id in the spec (``EdgeSpec.origin_facing_prefix_list``,
``NetworkSpec.s3_prefix_list``), and the spec says how to find it.
"""

from __future__ import annotations

CLOUDFRONT_REGION = "us-east-1"
"""Where CloudFront reads viewer certificates from ACM ("Requirements for using SSL/TLS
certificates with CloudFront": the certificate must be in us-east-1), and where web ACLs of
scope CLOUDFRONT, and their log groups, are created ("Logging web ACL traffic": for CloudFront,
create the destination in us-east-1). A platform in another region keeps these, and the edge
function beside them, in a small stack there (``platform_spec.names.EDGE``)."""

ORIGIN_FACING_PREFIX_LISTS = {
    "ap-northeast-1": "pl-58a04531",
    "ap-northeast-2": "pl-22a6434b",
    "ap-south-1": "pl-9aa247f3",
    "ap-southeast-1": "pl-31a34658",
    "ap-southeast-2": "pl-b8a742d1",
    "ca-central-1": "pl-38a64351",
    "eu-central-1": "pl-a3a144ca",
    "eu-north-1": "pl-fab65393",
    "eu-west-1": "pl-4fa04526",
    "eu-west-2": "pl-93a247fa",
    "eu-west-3": "pl-75b1541c",
    "sa-east-1": "pl-5da64334",
    "us-east-1": "pl-3b927c52",
    "us-east-2": "pl-b6a144df",
    "us-west-1": "pl-4ea04527",
    "us-west-2": "pl-82a045eb",
}
"""``com.amazonaws.global.cloudfront.origin-facing`` by region: the same id in every account of a
region, a different one in each region (as ``aws ec2 describe-managed-prefix-lists`` lists them)."""

S3_PREFIX_LISTS = {
    "us-east-1": "pl-63a5400a",
    "eu-west-1": "pl-6da54004",
}
"""``com.amazonaws.<region>.s3``, the gateway endpoint's prefix list, where the id is documented
(the EC2 reference's DescribePrefixLists examples); needed only with interface endpoints."""


def origin_facing_lookup(region: str) -> str:
    return (
        f"aws ec2 describe-managed-prefix-lists --region {region} "
        "--filters Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing"
    )


def s3_lookup(region: str) -> str:
    return (
        f"aws ec2 describe-prefix-lists --region {region} "
        f"--filters Name=prefix-list-name,Values=com.amazonaws.{region}.s3"
    )
