"""What every part of the ledger reads the templates with: the deployment's resources of a type,
their resolved properties, the caller a role reference names, and the calls several capabilities
make (reading from S3, publishing to a topic)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aws_model.cloudformation import Deployment
from aws_model.iam import Principal
from aws_model.ledger.entries import Caller, EndpointPassage, Entry, ExternalSecret, LedgerEntry


def logical_id_of(value: Any) -> str | None:
    """The logical id a raw ``Ref`` or ``Fn::GetAtt`` names, else None."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


class Reader:
    """Reads the entries off the templates of one deployment."""

    def __init__(self, deployment: Deployment, external_secrets: Mapping[str, ExternalSecret]) -> None:
        self.d = deployment
        self.external_secrets = external_secrets
        self.partition, self.region, self.account = deployment.partition, deployment.region, deployment.account

    # --- helpers --------------------------------------------------------------------------

    def _all(self, resource_type: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        for stack in self.d.stacks:
            for logical_id, body in self.d.resources(stack, resource_type).items():
                yield stack, logical_id, body

    def _props(self, stack: str, body: Mapping[str, Any]) -> dict[str, Any]:
        resolved: dict[str, Any] = self.d.resolve(stack, body.get("Properties", {}))
        return resolved

    def _role(self, stack: str, raw: Any, label: str) -> Caller:
        logical_id = logical_id_of(raw)
        if logical_id is None:
            raise ValueError(f"{stack}: cannot tell which role {raw!r} is")
        return Caller(
            label=label, principal=Principal("AWS", self.d.role_arn(stack, logical_id)), role=(stack, logical_id)
        )

    def _service(self, name: str) -> Caller:
        return Caller(label=name, principal=Principal("Service", name))

    def _find(self, resource_type: str, attribute: str, value: str) -> tuple[str, str]:
        """The resource of ``resource_type`` whose ``attribute`` (or Ref) has ``value``."""
        for stack, logical_id, _ in self._all(resource_type):
            actual = (
                self.d.ref(stack, logical_id) if attribute == "Ref" else self.d.get_att(stack, logical_id, attribute)
            )
            if actual == value:
                return stack, logical_id
        raise ValueError(f"no {resource_type} with {attribute} {value!r} in the deployment")

    def _log_stream(self, group: str, stream: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{group}:log-stream:{stream}"

    def _log_group_arn(self, group: str, *, region: str | None = None) -> str:
        return f"arn:{self.partition}:logs:{region or self.region}:{self.account}:log-group:{group}"

    def _via(self, service: str) -> dict[str, str]:
        return {"kms:ViaService": f"{service}.{self.region}.amazonaws.com"}

    def _bucket_key(self, bucket_name: str) -> str | None:
        stack, logical_id = self._find("AWS::S3::Bucket", "Ref", bucket_name)
        props = self._props(stack, self.d.resource(stack, logical_id))
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [{}])
        key: str | None = rules[0].get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
        return key

    def _secret_key(self, secret_arn: str) -> str | None:
        for stack, logical_id, body in self._all("AWS::SecretsManager::Secret"):
            if self.d.ref(stack, logical_id) == secret_arn:
                key: str | None = self._props(stack, body).get("KmsKeyId")
                return key
        for stack, logical_id, body in self._all("AWS::RDS::DBInstance"):
            if self.d.get_att(stack, logical_id, "MasterUserSecret.SecretArn") == secret_arn:
                master: str | None = self._props(stack, body).get("MasterUserSecret", {}).get("KmsKeyId")
                return master
        raise ValueError(f"no secret {secret_arn} in the deployment, nor named as an external secret")

    def _s3_read(self, caller: Caller, purpose: str, bucket: str, object_key: str) -> list[LedgerEntry]:
        arn = f"arn:{self.partition}:s3:::{bucket}/{object_key}"
        key = self._bucket_key(bucket)
        entries: list[LedgerEntry] = [
            Entry(purpose, caller, "s3:GetObject", arn, key=key),
            EndpointPassage(purpose, "s3:GetObject", arn),
        ]
        if key is not None:
            entries.append(Entry(purpose, caller, "kms:Decrypt", key, key=key, context=self._via("s3")))
        return entries

    def _publish(self, role: Caller, purpose: str, topic: str) -> Iterator[Entry]:
        stack, logical_id = self._find("AWS::SNS::Topic", "Ref", topic)
        key = self._props(stack, self.d.resource(stack, logical_id)).get("KmsMasterKeyId")
        yield Entry(purpose, role, "sns:Publish", topic, key=key)
        if key is not None:
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                yield Entry(purpose, role, action, key, key=key, context=self._via("sns"))
