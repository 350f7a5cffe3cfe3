"""The access ledger: every run-time AWS call the platform depends on, and whether the
synthesized policies let it happen.

Each entry (``entries``) names who calls (a role of the platform, an AWS service, or an
AWS-owned account), the action, the resource and any KMS key involved, and why the platform
needs it. Entries are read off the synthesized templates, which follow from the spec, one
module per capability: every container of every task definition pulls its image, writes its
logs and reads its secrets (``tasks``); every function's custom resources do their work
(``functions``); the release's states make their calls (``release``); every alarm publishes
to its topic, every encrypted log group is written through its key, and so on
(``deliveries``). A service added to the spec adds its entries without an edit here.

``check_ledger`` evaluates each entry with ``aws_model.iam`` against every policy that
applies in the deployment (the caller's identity policies, the resource's own policy, key
policies), explicit denies first, and returns the entries that fail with the statement (or
the absence of one) that decides it.

``python -m aws_model.ledger cdk.out dev`` prints the table for a synthesized profile.
"""

from aws_model.ledger.calls import ledger
from aws_model.ledger.cli import assembly_regions, deployment_of, render
from aws_model.ledger.entries import (
    EXECUTION_LOG_ACTIONS,
    TRACE_ACTIONS,
    AclDelivery,
    Caller,
    EndpointPassage,
    Entry,
    ExternalSecret,
    Failure,
    LedgerEntry,
    check_ledger,
    default_key_policy,
)

__all__ = [
    "EXECUTION_LOG_ACTIONS",
    "TRACE_ACTIONS",
    "AclDelivery",
    "Caller",
    "EndpointPassage",
    "Entry",
    "ExternalSecret",
    "Failure",
    "LedgerEntry",
    "assembly_regions",
    "check_ledger",
    "default_key_policy",
    "deployment_of",
    "ledger",
    "render",
]
