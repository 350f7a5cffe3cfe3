"""Resolve CDK-synthesized CloudFormation templates as if they were deployed.

Policies in synthesized templates are full of intrinsics (Ref, Fn::GetAtt, Fn::Join,
Fn::GetStackOutput, ...). The access ledger needs them as the concrete strings IAM will see,
so that a policy naming "the backend repository" can be matched against a request for that
repository's ARN. This package plays CloudFormation: it gives every resource a deterministic
physical id (from stack name and logical id, honouring explicit name properties as
CloudFormation does: ``physical``, ``resource_table`` and ``attributes``), computes the
attributes CDK reads, and evaluates the intrinsics (``intrinsics``); ``deployment`` puts them
together and reads the policies that apply.

It never invents a value it does not know: an unknown intrinsic, attribute, stack, output or
condition raises :class:`TemplateError`, so a caller never matches against a silent placeholder.
Names and ids are stand-ins; only their shape (ARN layout, prefixes) follows AWS.
"""

from aws_model.cloudformation.deployment import Deployment
from aws_model.cloudformation.values import TemplateError

__all__ = ["Deployment", "TemplateError"]
