"""The configuration hook's handler against moto's S3 and KMS, through a stack's life:
create, an update that changes the file (a new key), the clean-up that follows, delete."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.deploy_hooks import load_hook

handler_module = load_hook("config_object")

BUCKET = "config-bucket"
OLD_KEY = "prometheus/prometheus-0123456789abcdef.yml"
NEW_KEY = "prometheus/prometheus-fedcba9876543210.yml"


@pytest.fixture
def aws(mocked_aws: None) -> tuple[Any, str]:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key_arn = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    return s3, key_arn


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str | None]]:
    sent: list[tuple[str, str, str | None]] = []

    def respond(event: dict[str, Any], status: str, reason: str, physical_id: str | None = None) -> None:
        sent.append((status, reason, physical_id))

    monkeypatch.setattr(handler_module, "respond", respond)
    return sent


def _event(request_type: str, key: str, content: str, key_arn: str, physical_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:hook",
            "ServiceTimeout": "300",
            "Bucket": BUCKET,
            "Key": key,
            "Content": content,
            "KmsKeyArn": key_arn,
            "ContentType": "text/yaml",
        },
        "ResponseURL": "https://example.invalid/response",
        "StackId": "stack",
        "RequestId": "request",
        "LogicalResourceId": "File0",
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def _keys(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_create_writes_the_file_encrypted_with_the_key(
    aws: tuple[Any, str], responses: list[tuple[str, str, str | None]]
) -> None:
    s3, key_arn = aws
    handler_module.handler(_event("Create", OLD_KEY, "global: {}\n", key_arn), None, s3)
    assert responses == [("SUCCESS", f"wrote s3://{BUCKET}/{OLD_KEY}", f"s3://{BUCKET}/{OLD_KEY}")]
    stored = s3.get_object(Bucket=BUCKET, Key=OLD_KEY)
    assert stored["Body"].read() == b"global: {}\n"
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert stored["SSEKMSKeyId"] == key_arn
    assert stored["ContentType"] == "text/yaml"


def test_an_update_to_new_content_writes_a_new_object_and_the_clean_up_deletes_the_old(
    aws: tuple[Any, str], responses: list[tuple[str, str, str | None]]
) -> None:
    """CloudFormation sends Update with the new properties; a new physical id makes it send
    Delete for the old one once the update has succeeded (CloudFormation user guide, custom
    resource request types, "Update": https://docs.aws.amazon.com/AWSCloudFormation/latest/
    UserGuide/crpg-ref-requesttypes-update.html)."""
    s3, key_arn = aws
    old_id = f"s3://{BUCKET}/{OLD_KEY}"
    handler_module.handler(_event("Create", OLD_KEY, "old\n", key_arn), None, s3)
    handler_module.handler(_event("Update", NEW_KEY, "new\n", key_arn, physical_id=old_id), None, s3)
    new_id = f"s3://{BUCKET}/{NEW_KEY}"
    assert responses[-1] == ("SUCCESS", f"wrote {new_id}", new_id)
    assert sorted(_keys(s3)) == sorted([OLD_KEY, NEW_KEY]), "running tasks keep reading the old key until replaced"
    handler_module.handler(_event("Delete", OLD_KEY, "old\n", key_arn, physical_id=old_id), None, s3)
    assert responses[-1] == ("SUCCESS", f"deleted {old_id}", old_id)
    assert _keys(s3) == [NEW_KEY]


def test_delete_of_a_resource_whose_create_failed_touches_nothing(
    aws: tuple[Any, str], responses: list[tuple[str, str, str | None]]
) -> None:
    s3, key_arn = aws
    handler_module.handler(_event("Create", NEW_KEY, "kept\n", key_arn), None, s3)
    # A failed create reports some other physical id; its delete must not remove a live object.
    handler_module.handler(_event("Delete", NEW_KEY, "kept\n", key_arn, physical_id="File0"), None, s3)
    assert responses[-1][0] == "SUCCESS"
    assert _keys(s3) == [NEW_KEY]


def test_a_failed_write_is_reported_to_cloudformation(
    aws: tuple[Any, str], responses: list[tuple[str, str, str | None]]
) -> None:
    s3, key_arn = aws
    event = _event("Create", OLD_KEY, "x\n", key_arn)
    event["ResourceProperties"]["Bucket"] = "no-such-bucket"
    handler_module.handler(event, None, s3)
    ((status, reason, _),) = responses
    assert status == "FAILED"
    assert reason.startswith(f"could not write s3://no-such-bucket/{OLD_KEY}: ")
