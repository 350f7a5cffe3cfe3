"""What a producer replaces, every stack that reads it weakly follows: the reader's own template
changes, so ``cdk deploy --all`` updates it and CloudFormation resolves its ``Fn::GetStackOutput``
anew (docs/operations.md, "Cross-stack references"; layers/shared/cross_stack_reads.py).

The tests synthesize dev and a variant of it, find what the variant replaces by CloudFormation's
rules (a replacement-only property of the registry schemas changed, or names what is replaced),
and hold every resource of another stack that reads one of those to a changed template."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from compliance.replacements import FINGERPRINT_LENGTH, output_targets, replacements, weak_reads
from layers.shared.cross_stack_reads import CARRIER_TAG, IN_NAME, UNCARRIED
from tests.platform_synth import Synthesized, synth_spec
from tests.variants import with_changed_port, with_replacing_changes

Templates = dict[str, dict[str, Any]]


def _templates(synth: Synthesized) -> Templates:
    return {synth.stack_name(layer): synth.template_json(layer) for layer in synth.spec.layers}


@pytest.fixture(scope="module")
def port_changed(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_spec(tmp_path_factory.mktemp("cdk-port"), with_changed_port(dev.spec))


@pytest.fixture(scope="module")
def replacing(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_spec(tmp_path_factory.mktemp("cdk-replacing"), with_replacing_changes(dev.spec))


@dataclass(frozen=True)
class Reader:
    """A resource, in both templates, that reads a resource the deploy replaces."""

    reader: str
    replaced: str
    replaced_type: str
    why: str
    changed: bool

    def __str__(self) -> str:
        state = "changes" if self.changed else "is unchanged, so it keeps the old value"
        return f"{self.reader} reads {self.replaced} ({self.replaced_type}: {self.why}) and {state}"


def readers_of_replaced(base: Templates, new: Templates) -> list[Reader]:
    """Every resource (its properties) and output (its value and description) of both templates
    that reads a replaced resource weakly; one created by this deploy resolves what it reads as
    it is created."""
    replaced = replacements(base, new)
    found = []
    for stack, template in new.items():
        readers = [
            (f"{stack}/{logical_id}", body.get("Properties"), before.get("Properties"))
            for logical_id, body in template["Resources"].items()
            if (before := base.get(stack, {}).get("Resources", {}).get(logical_id, {})).get("Type") == body["Type"]
        ] + [
            (f"{stack} output {name}", body, before)
            for name, body in template.get("Outputs", {}).items()
            if (before := base.get(stack, {}).get("Outputs", {}).get(name)) is not None
        ]
        for reader, after, before in readers:
            for producer, output in sorted(weak_reads(after)):
                for target in sorted(output_targets(new, producer, output) & set(replaced)):
                    found.append(
                        Reader(
                            reader=reader,
                            replaced="/".join(target),
                            replaced_type=new[target[0]]["Resources"][target[1]]["Type"],
                            why=replaced[target],
                            changed=before != after,
                        )
                    )
    return found


def test_a_port_change_updates_whatever_reads_what_it_replaces(dev: Synthesized, port_changed: Synthesized) -> None:
    """The service's target group takes its port only when created, so a new one replaces it; the
    alarm on its unhealthy targets, in the observability stack, reads it."""
    readers = readers_of_replaced(_templates(dev), _templates(port_changed))
    assert readers, "the port change replaces nothing another stack reads: this test would check nothing"
    assert [str(r) for r in readers if not r.changed] == []


def test_a_renamed_service_and_namespace_update_whatever_reads_what_they_replace(
    dev: Synthesized, replacing: Synthesized
) -> None:
    """Beside the port: a renamed service (new resources, read through new outputs) and a renamed
    Cloud Map namespace, in which Prometheus and Alertmanager, in the observability stack, register."""
    readers = readers_of_replaced(_templates(dev), _templates(replacing))
    namespace = [r for r in readers if r.replaced_type == "AWS::ServiceDiscovery::PrivateDnsNamespace"]
    assert namespace, f"nothing reads the replaced namespace: {[str(r) for r in readers]}"
    assert [str(r) for r in readers if not r.changed] == []


def _carried(body: dict[str, Any]) -> str | None:
    """The fingerprint the resource carries, if it carries one."""
    properties = body.get("Properties", {})
    if body["Type"] in IN_NAME:
        named = re.search(rf"-([0-9a-f]{{{FINGERPRINT_LENGTH}}})$", str(properties.get(IN_NAME[body["Type"]])))
        return named.group(1) if named else None
    tags = properties.get("Tags", [])
    if isinstance(tags, dict):
        return tags.get(CARRIER_TAG)
    return next((str(t["Value"]) for t in tags if t.get("Key") == CARRIER_TAG), None)


def test_a_reader_of_nothing_replaced_carries_the_same(dev: Synthesized, port_changed: Synthesized) -> None:
    """The fingerprint follows replacement only: what reads only what the port change leaves in
    place (subnets, security groups, the other services, the listener) is not updated for it."""
    base, new = _templates(dev), _templates(port_changed)
    replaced = set(replacements(base, new))
    moved = []
    for stack, template in new.items():
        for logical_id, body in template["Resources"].items():
            before = base.get(stack, {}).get("Resources", {}).get(logical_id)
            reads = weak_reads(body.get("Properties", {}))
            if before is None or not reads or any(output_targets(new, *read) & replaced for read in reads):
                continue
            if _carried(before) != _carried(body):
                moved.append(f"{stack}/{logical_id}")
    assert moved == []


def test_every_weak_reader_carries_what_it_reads(profile: Synthesized) -> None:
    """No resource reads another stack's output weakly without the tag that follows it, but custom
    resources and the types that cannot carry it (cross_stack_reads.UNCARRIED); no output without
    it in its description."""
    missing = []
    for stack, template in _templates(profile).items():
        for logical_id, body in template["Resources"].items():
            kind = body["Type"]
            if not weak_reads(body.get("Properties", {})) or kind.startswith("Custom::") or kind in UNCARRIED:
                continue
            if _carried(body) is None:
                missing.append(f"{stack}/{logical_id} ({kind})")
        for name, output in template.get("Outputs", {}).items():
            if weak_reads(output.get("Value")) and CARRIER_TAG not in output.get("Description", ""):
                missing.append(f"{stack} output {name}")
    assert missing == []
