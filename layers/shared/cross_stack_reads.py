"""Every resource that reads another stack's output weakly carries what would replace it.

A weak reference (``Fn::GetStackOutput``) is resolved when CloudFormation creates or updates
the resource that holds it, and at no other time: "If the referenced stack or output is later
deleted or modified, the consuming stack is not automatically updated or notified"
(CloudFormation template reference, "Fn::GetStackOutput"). ``cdk deploy`` also skips a stack
whose template did not change (aws-cdk#6346). So when a producer replaces a resource (a
target group whose port changed, a namespace renamed), a reader whose own template is the same
keeps the deleted resource's value: an alarm watches a dead target group, Prometheus stays
registered in the old namespace.

:class:`CarryingSynthesizer` closes that: after CDK writes a stack's template, every resource
in it that reads a weak reference gets the fingerprint of the replacement inputs of what it
reads (``compliance.replacements.Fingerprints``), taken from the producers' templates written
before it. A replacement changes the fingerprint, so the reader's own properties change, the
deploy updates it, and the update resolves its references anew. What is not replaced leaves
the fingerprint, and the reader, as they are.

The fingerprint rides in a tag (:data:`CARRIER_TAG`), which every type here can change in
place; an IAM policy, which has no tags, takes it in its name. A resource's ``Metadata`` would
not do: a change to it alone reaches no resource provider (EC2 instances need the cfn-hup
daemon to notice one), so it re-resolves nothing. A custom resource carries nothing: its
provider reads its properties only when it runs, and each run gets them resolved anew. An
output that reads one (for the tools) carries it in its description: a changed output alone
makes a change set CloudFormation executes, and ``cdk deploy`` runs it (aws-cdk#2029).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from aws_cdk import DefaultStackSynthesizer, FileAssetSource, ISynthesisSession, Stack

from compliance.replacements import Fingerprints, Templates, weak_reads
from compliance.resource_schemas import create_only_properties, schema

CARRIER_TAG = "cross-stack-reads"
"""The tag whose value is the fingerprint of what a resource reads from other stacks."""

IN_NAME = {"AWS::IAM::Policy": "PolicyName"}
"""Types without tags, and the property, changeable in place, whose value takes the fingerprint."""

UNCARRIED = {
    "AWS::EFS::MountTarget": "nothing of a mount target but its security groups changes in place: it reads "
    "its group strongly (layers/data/prometheus_file_system.py), and weakly only its subnet, which is "
    "replaced with the VPC alone",
}
"""Types with no property to carry it, and why what they read may stay as it is."""


class CrossStackReadError(Exception):
    """A resource reads a weak reference this module cannot make it follow."""


def carry_reads(template: dict[str, Any], producers: Templates, *, stack: str) -> bool:
    """Give each resource of ``template`` (stack ``stack``'s) that reads a weak reference the
    fingerprint of what it reads, from ``producers`` (stack name -> the template already written);
    whether any changed."""
    fingerprints = Fingerprints(producers)
    changed = False
    for logical_id, body in template.get("Resources", {}).items():
        reads = weak_reads(body.get("Properties", {}))
        if not reads or _is_custom(body["Type"]) or body["Type"] in UNCARRIED:
            continue
        later = sorted({producer for producer, _ in reads} - set(producers))
        if later:
            raise CrossStackReadError(f"{stack}/{logical_id} reads {later[0]}, which is synthesized after it")
        _carry(f"{stack}/{logical_id}", body, fingerprints.reads(reads))
        changed = True
    for output in template.get("Outputs", {}).values():
        # An output is evaluated again whenever the stack is updated, even with nothing else to do.
        reads = weak_reads(output.get("Value"))
        if reads:
            carried = f"{CARRIER_TAG} {fingerprints.reads(reads)}"
            output["Description"] = f"{output['Description']} ({carried})" if "Description" in output else carried
            changed = True
    return changed


def _is_custom(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


def _carry(where: str, body: dict[str, Any], fingerprint: str) -> None:
    resource_type = body["Type"]
    properties = body.setdefault("Properties", {})
    if resource_type in IN_NAME:
        name = IN_NAME[resource_type]
        properties[name] = f"{properties[name]}-{fingerprint}"
        return
    tags = schema(resource_type).get("properties", {}).get("Tags")
    if tags is None or "Tags" in create_only_properties(resource_type):
        raise CrossStackReadError(
            f"{where} ({resource_type}) reads another stack's output weakly and has no tag or other "
            "property to follow its replacement: read it strongly, or name the property in cross_stack_reads.IN_NAME"
        )
    if tags.get("type") == "object":
        properties["Tags"] = {**properties.get("Tags", {}), CARRIER_TAG: fingerprint}
    else:
        kept = [tag for tag in properties.get("Tags", []) if tag.get("Key") != CARRIER_TAG]
        properties["Tags"] = sorted([*kept, {"Key": CARRIER_TAG, "Value": fingerprint}], key=lambda t: str(t["Key"]))


class CarryingSynthesizer(DefaultStackSynthesizer):
    """The default synthesizer, which then adds the fingerprints to the template it wrote
    (:func:`carry_reads`), and records it for the stacks synthesized after it. One per stack;
    all of an app's share ``rendered``."""

    def __init__(self, rendered: MutableMapping[str, dict[str, Any]]) -> None:
        super().__init__()
        self._rendered = rendered

    def reusable_bind(self, stack: Stack) -> DefaultStackSynthesizer:
        # The default binds a copy, whose calls back into Python would reach this unbound original.
        self.bind(stack)
        return self

    def _synthesize_template(
        self,
        session: ISynthesisSession,
        lookup_role_arn: str | None = None,
        lookup_role_external_id: str | None = None,
        lookup_role_additional_options: Any = None,
    ) -> FileAssetSource:
        source = super()._synthesize_template(
            session, lookup_role_arn, lookup_role_external_id, lookup_role_additional_options
        )
        path = Path(session.outdir) / str(source.file_name)
        template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        stack = self._bound_stack.stack_name
        if carry_reads(template, self._rendered, stack=stack):
            # Written as CDK writes it; the template asset's hash (its S3 key) is the new text's.
            text = json.dumps(template, indent=1, ensure_ascii=False)
            path.write_text(text, encoding="utf-8")
            source = FileAssetSource(
                file_name=source.file_name,
                packaging=source.packaging,
                source_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                deploy_time=source.deploy_time,
                display_name=source.display_name,
            )
        self._rendered[stack] = template
        return source
