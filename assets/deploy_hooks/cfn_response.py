"""Answering CloudFormation for a custom resource (the pre-signed response URL)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def respond(event: dict[str, Any], status: str, reason: str, physical_id: str | None = None) -> None:
    """Tell CloudFormation the outcome; it waits for this answer up to the resource's ServiceTimeout."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": physical_id or event.get("PhysicalResourceId") or event["LogicalResourceId"],
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
