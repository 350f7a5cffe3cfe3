"""The whole ledger: every run-time call the deployed templates depend on."""

from __future__ import annotations

from collections.abc import Mapping

from aws_model.cloudformation import Deployment
from aws_model.ledger.deliveries import DeliveryCalls
from aws_model.ledger.entries import ExternalSecret, LedgerEntry
from aws_model.ledger.functions import FunctionCalls
from aws_model.ledger.release import ReleaseCalls
from aws_model.ledger.tasks import TaskCalls


class _Calls(TaskCalls, FunctionCalls, ReleaseCalls, DeliveryCalls):
    """Reads the entries off the templates of one deployment."""


def ledger(
    deployment: Deployment, *, external_secrets: Mapping[str, ExternalSecret] | None = None
) -> list[LedgerEntry]:
    """Every run-time call the deployed templates depend on. ``external_secrets``: the secrets tasks
    read that the deployment does not create, by the ARN the task definition names."""
    reader = _Calls(deployment, external_secrets or {})
    return [
        *reader.task_definitions(),
        *reader.exec_sessions(),
        *reader.functions(),
        *reader.state_machines(),
        *reader.alarms(),
        *reader.encrypted_log_groups(),
        *reader.access_logs(),
        *reader.flow_logs(),
        *reader.audit_trails(),
        *reader.nat_instances(),
        *reader.schedules(),
    ]
