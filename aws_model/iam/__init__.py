"""IAM policy evaluation, offline, for one request in a single account: ``evaluate`` decides a
request against the caller's identity policies and the resource's policy, following only the
rules it can follow faithfully (``aws_model.iam.evaluation`` lists them) and refusing the rest
with ``UnsupportedPolicy``."""

from aws_model.iam.evaluation import evaluate
from aws_model.iam.requests import Decision, NamedPolicy, Principal, Request, UnsupportedPolicy

__all__ = ["Decision", "NamedPolicy", "Principal", "Request", "UnsupportedPolicy", "evaluate"]
