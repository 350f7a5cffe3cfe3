"""The ledger's calls for Lambda functions: their logs, and what each custom resource sent to them
does (write a configuration object, check images are pushed, warm the image cache)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aws_model.ledger.entries import Caller, Entry
from aws_model.ledger.reader import Reader


class FunctionCalls(Reader):
    """Reads the functions and the custom resources sent to them."""

    def functions(self) -> Iterator[Entry]:
        for stack, logical_id, body in self._all("AWS::Lambda::Function"):
            raw = body["Properties"]
            props = self._props(stack, body)
            role = self._role(stack, raw["Role"], f"function {logical_id}'s role")
            group = props.get("LoggingConfig", {}).get("LogGroup")
            if group is not None:
                for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                    yield Entry(f"{logical_id}: send its logs", role, action, self._log_stream(group, "stream"))
            function_arn = self.d.get_att(stack, logical_id, "Arn")
            yield from self._config_objects(role, function_arn)
            yield from self._image_checks(role, function_arn)
            yield from self._mirror_warmups(role, function_arn)

    def _custom_resources(self, resource_type: str, function_arn: str) -> Iterator[dict[str, Any]]:
        for stack, _, body in self._all(resource_type):
            props = self._props(stack, body)
            if props["ServiceToken"] == function_arn:
                yield props

    def _config_objects(self, role: Caller, function_arn: str) -> Iterator[Entry]:
        for props in self._custom_resources("Custom::ConfigObject", function_arn):
            bucket, object_key, key = props["Bucket"], props["Key"], props["KmsKeyArn"]
            arn = f"arn:{self.partition}:s3:::{bucket}/{object_key}"
            yield Entry(f"write {object_key}", role, "s3:PutObject", arn, key=key)
            yield Entry(f"write {object_key}", role, "kms:GenerateDataKey", key, key=key, context=self._via("s3"))
            # The clean-up after a change deletes the previous version's object.
            earlier = re.sub(r"[0-9a-f]{16}", "0" * 16, object_key)
            yield Entry(
                f"delete {earlier}, written by an earlier deploy",
                role,
                "s3:DeleteObject",
                f"arn:{self.partition}:s3:::{bucket}/{earlier}",
            )

    def _image_checks(self, role: Caller, function_arn: str) -> Iterator[Entry]:
        for props in self._custom_resources("Custom::ImagesPresent", function_arn):
            for image in props["Images"]:
                arn = f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{image['Repository']}"
                yield Entry(f"check {image['Repository']}:{image['Tag']} is pushed", role, "ecr:DescribeImages", arn)

    def _mirror_warmups(self, role: Caller, function_arn: str) -> Iterator[Entry]:
        """The cache warmer fetches each pin's manifest by tag, which imports it the first time
        (layers/data/mirror_warmer.py)."""
        for props in self._custom_resources("Custom::MirrorWarmer", function_arn):
            yield Entry("warm the image cache: sign in to the registry", role, "ecr:GetAuthorizationToken", "*")
            for image in props["Images"]:
                arn = f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{image['Repository']}"
                purpose = f"warm the image cache: fetch {image['Repository']}:{image['Tag']}"
                for action in ("ecr:BatchGetImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"):
                    yield Entry(purpose, role, action, arn)
