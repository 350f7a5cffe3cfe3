"""CloudFormation custom resource: write one rendered configuration file to S3.

The key carries the content's hash, so a new configuration is a new object
(and a new physical id): CloudFormation then deletes the previous object once
the stack update has succeeded, and tasks that still run keep what they copied.
"""

from __future__ import annotations

from typing import Any

import boto3
from cfn_response import respond


def handler(event: dict[str, Any], context: Any, s3: Any = None) -> None:
    properties = event["ResourceProperties"]
    bucket, key = properties["Bucket"], properties["Key"]
    physical_id = f"s3://{bucket}/{key}"
    client = s3 or boto3.client("s3")
    try:
        if event["RequestType"] == "Delete":
            if event.get("PhysicalResourceId") == physical_id:
                client.delete_object(Bucket=bucket, Key=key)
            respond(event, "SUCCESS", f"deleted {physical_id}", physical_id)
            return
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=properties["Content"].encode(),
            ContentType=properties.get("ContentType", "text/plain"),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=properties["KmsKeyArn"],
        )
    except Exception as error:  # report every failure to CloudFormation instead of letting it wait
        respond(event, "FAILED", f"could not write {physical_id}: {error}", physical_id)
        return
    respond(event, "SUCCESS", f"wrote {physical_id}", physical_id)
