"""Edge stack, in us-east-1, for a platform in another region: CloudFront's web ACL, viewer-request
function and viewer certificate (``EdgeGuards``), read by the compute stack's distribution through
cross-region references."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from layers.edge.edge_guards import EdgeGuards
from layers.shared.log_groups import Logging
from layers.shared.logs_key import LogsKey
from platform_spec import PlatformSpec


class EdgeStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, spec: PlatformSpec, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The web ACL's logs stay in this region; so does the key that encrypts them.
        key = LogsKey(self, "LogsKey", description=f"{spec.stack_prefix} edge: the web ACL's log group").key
        self.guards = EdgeGuards(
            self, "Edge", spec=spec, logging=Logging(key=key, retention_days=spec.log_retention_days)
        )
