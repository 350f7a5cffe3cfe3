"""The cache warmer: the data stack fetches every pin a task pulls through the pull-through cache, by
tag, after the cache rules exist and before any stack whose tasks pull them is deployed.

A pull-through cache reports an uncached image as missing when it is first pulled by digest
(aws/containers-roadmap#2837); a pull by tag imports it (Amazon ECR user guide, "Pulling an image
with a pull through cache rule":
https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-working-pulling.html)."""

from __future__ import annotations

from typing import Any

from aws_model.cloudformation import Deployment
from aws_model.iam import Principal, Request, evaluate
from aws_model.ledger import Entry, check_ledger
from platform_spec.checks import image_parts
from platform_spec.names import DATA
from platform_spec.workloads import cache_prefix
from tests.platform_synth import Synthesized
from tests.templates import deployment_of, ledger_of, pulled_image

RESOURCE_TYPE = "Custom::MirrorWarmer"


def _spec_images(synth: Synthesized) -> set[str]:
    """Every third-party image the spec names whose registry the spec caches."""
    spec = synth.spec
    grafana = (spec.grafana.image,) if spec.grafana else ()
    named = (spec.prometheus.image, spec.alertmanager.image, *grafana, *spec.helper_images.all)
    return {image for image in named if spec.image_mirror.registry(image) is not None}


def _warmer(synth: Synthesized, deployment: Deployment) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The warmer's stack, its resource, and its properties as deployed."""
    found = [
        (stack, body)
        for stack in deployment.stacks
        for body in deployment.resources(stack).values()
        if body["Type"] == RESOURCE_TYPE
    ]
    assert len(found) == 1, f"{len(found)} cache warmers"
    ((stack, body),) = found
    assert stack == synth.stack_name(DATA), "the warmer is not in the data stack, beside the cache rules"
    return stack, dict(body), deployment.resolve(stack, body["Properties"])


def _cached_pulls(synth: Synthesized, deployment: Deployment) -> dict[str, set[str]]:
    """Stack -> the images its task definitions pull through the cache."""
    registry = f"{deployment.account}.dkr.ecr.{deployment.region}.amazonaws.com/"
    prefixes = tuple(
        f"{registry}{cache_prefix(synth.spec.stack_prefix, r)}/" for r in synth.spec.image_mirror.registries
    )
    pulls: dict[str, set[str]] = {}
    for stack in deployment.stacks:
        for body in deployment.resources(stack, "AWS::ECS::TaskDefinition").values():
            for container in deployment.resolve(stack, body["Properties"])["ContainerDefinitions"]:
                if str(container["Image"]).startswith(prefixes):
                    pulls.setdefault(stack, set()).add(str(container["Image"]))
    return pulls


def test_the_warmer_fetches_by_tag_every_pin_a_task_pulls_through_the_cache(profile: Synthesized) -> None:
    deployment = deployment_of(profile)
    _, _, props = _warmer(profile, deployment)
    registry = props["Registry"]
    assert registry == f"{deployment.account}.dkr.ecr.{deployment.region}.amazonaws.com"
    warmed = {f"{registry}/{i['Repository']}@{i['Digest']}" for i in props["Images"]}
    pulled = set().union(*_cached_pulls(profile, deployment).values())
    assert pulled, "no task pulls through the cache"
    assert warmed == pulled
    assert warmed == {pulled_image(profile, image) for image in _spec_images(profile)}
    by_reference = {f"{i['Image']}@{i['Digest']}": i for i in props["Images"]}
    assert set(by_reference) == _spec_images(profile)
    for reference, image in by_reference.items():
        assert image["Tag"] == image_parts(reference)[2], "the manifest is fetched by the pin's own tag"


def test_the_warmer_runs_after_every_cache_rule(profile: Synthesized) -> None:
    deployment = deployment_of(profile)
    _, body, _ = _warmer(profile, deployment)
    rules = deployment.resources(profile.stack_name(DATA), "AWS::ECR::PullThroughCacheRule")
    assert rules
    assert set(rules) <= set(body.get("DependsOn", []))


def _depends_on(manifest: dict[str, Any], stack: str, target: str) -> bool:
    seen, waiting = set(), [stack]
    while waiting:
        for dependency in manifest["artifacts"][waiting.pop()].get("dependencies", []):
            if dependency == target:
                return True
            if dependency not in seen and dependency in manifest["artifacts"]:
                seen.add(dependency)
                waiting.append(dependency)
    return False


def test_every_stack_that_pulls_through_the_cache_is_deployed_after_the_warmer(profile: Synthesized) -> None:
    """``cdk deploy --all`` deploys a stack after those it depends on: the data stack's warmer has
    run before a task of compute, observability or delivery pulls a pin."""
    deployment, manifest = deployment_of(profile), profile.manifest()
    warmer_stack, _, _ = _warmer(profile, deployment)
    pullers = set(_cached_pulls(profile, deployment))
    assert pullers
    assert warmer_stack not in pullers, "a task of the warmer's own stack could pull before it runs"
    for stack in pullers:
        assert _depends_on(manifest, stack, warmer_stack), f"{stack} may deploy before the cache is warm"


def test_the_warmers_calls_are_allowed_on_the_cached_repositories_only(profile: Synthesized) -> None:
    deployment = deployment_of(profile)
    _, _, props = _warmer(profile, deployment)
    entries = [
        e
        for e in ledger_of(profile, deployment)
        if isinstance(e, Entry) and e.purpose.startswith("warm the image cache")
    ]
    repositories = {i["Repository"] for i in props["Images"]}
    for repository in repositories:
        for action in ("ecr:BatchGetImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"):
            assert any(e.action == action and e.resource.endswith(f":repository/{repository}") for e in entries), (
                repository,
                action,
            )
    assert any(e.action == "ecr:GetAuthorizationToken" for e in entries)
    assert [str(f) for f in check_ledger(deployment, entries)] == []
    for entry in entries:
        if entry.resource == "*":
            continue
        assert entry.caller.role is not None
        sibling = f"{entry.resource.rsplit('/', 1)[0]}/not-a-cached-image"
        decision = evaluate(
            Request(Principal("AWS", entry.caller.principal.value), entry.action, sibling),
            account=deployment.account,
            identity_policies=deployment.identity_policies(*entry.caller.role),
            resource_policy=None,
        )
        assert not decision.allowed, f"the warmer may {entry.action} {sibling}"
