"""The image check holds in every case: the repositories' lifecycle policy (read from the
synthesized template and evaluated as ECR documents it) never expires an image a service runs
or may roll back to, so the deploy-time check passes on a first deploy with its images, an
infrastructure deploy after many builds, a release and a roll-back.

Amazon ECR user guide, "Lifecycle policy evaluation rules"
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html#lp_evaluation_rules):
rules are applied in priority order; "An image that matches the tagging requirements of a
higher priority rule cannot be expired by a rule with a lower priority"; with
``imageCountMoreThan`` the matching images are sorted newest first by push time and those past
the count expire; a ``tagPrefixList`` matches an image when every prefix matches one of its tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from platform_spec.names import DATA, RELEASE_TAG_PREFIX
from tests.deploy_hooks import load_hook
from tests.platform_synth import Synthesized

handler_module = load_hook("images_present")


@dataclass
class Image:
    pushed: int
    tags: set[str] = field(default_factory=set)


def _matches(rule: dict[str, Any], image: Image) -> bool:
    selection = rule["selection"]
    status = selection["tagStatus"]
    if status == "untagged":
        return not image.tags
    if status == "tagged":
        prefixes = selection.get("tagPrefixList", [])
        return bool(image.tags) and all(any(t.startswith(p) for t in image.tags) for p in prefixes)
    return True  # "any"


def expire(images: list[Image], rules: list[dict[str, Any]]) -> list[Image]:
    """The images left after one evaluation of the lifecycle policy."""
    expired: set[int] = set()
    ordered = sorted(rules, key=lambda r: r["rulePriority"])
    for index, rule in enumerate(ordered):
        assert rule["selection"]["countType"] == "imageCountMoreThan", "only count rules are modelled here"
        matching = sorted((i for i in images if _matches(rule, i)), key=lambda i: -i.pushed)
        protected = {id(i) for i in images for higher in ordered[:index] if _matches(higher, i)}
        for image in matching[rule["selection"]["countNumber"] :]:
            if id(image) not in protected:
                expired.add(id(image))
    return [i for i in images if id(i) not in expired]


def _policy(synth: Synthesized) -> list[dict[str, Any]]:
    (repository, *_) = [
        r for r in synth.template_json(DATA)["Resources"].values() if r["Type"] == "AWS::ECR::Repository"
    ]
    rules: list[dict[str, Any]] = json.loads(repository["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])[
        "rules"
    ]
    return rules


@dataclass
class Registry:
    """One repository through a platform's life: builds pushed, some released."""

    rules: list[dict[str, Any]]
    images: list[Image] = field(default_factory=list)
    clock: int = 0

    def push(self, tag: str) -> None:
        self.clock += 1
        self.images.append(Image(self.clock, {tag}))
        self.images = expire(self.images, self.rules)

    def release(self, tag: str) -> None:
        (image,) = [i for i in self.images if tag in i.tags]
        image.tags.add(f"{RELEASE_TAG_PREFIX}{self.clock:08d}")  # what the release state machine adds
        self.images = expire(self.images, self.rules)

    def has(self, tag: str) -> bool:
        return any(tag in i.tags for i in self.images)


def test_what_runs_and_what_a_roll_back_needs_never_expires(profile: Synthesized) -> None:
    registry = Registry(_policy(profile))
    registry.push("initial")
    running, released = "initial", ["initial"]
    for build in range(1, 121):
        tag = f"sha-{build:07d}"
        registry.push(tag)
        if build % 7 == 0:  # most builds are never released
            registry.release(tag)
            running = tag
            released.append(tag)
        assert registry.has(running), f"after build {build}, the running {running} expired"
        assert registry.has(released[-2] if len(released) > 1 else "initial"), "the roll-back target expired"
        assert registry.has("initial"), "the first deploy's image expired"
    kept = [t for t in released[1:] if registry.has(t)]
    assert len(kept) == profile.spec.releases_kept, "older releases expire, beyond the ones kept"
    unreleased = [i for i in registry.images if not any(t.startswith(RELEASE_TAG_PREFIX) for t in i.tags)]
    assert len(unreleased) <= profile.spec.images_kept + 1


def test_without_the_release_rule_a_running_image_would_expire(dev: Synthesized) -> None:
    """The policy the platform had before: only "keep the newest N images"."""
    (_, _, any_rule) = _policy(dev)
    registry = Registry([{**any_rule, "rulePriority": 1}])
    registry.push("initial")
    registry.push("sha-0000001")
    registry.release("sha-0000001")
    for build in range(2, 2 + dev.spec.images_kept):
        registry.push(f"sha-{build:07d}")
    assert not registry.has("sha-0000001")


# --- The deploy-time check on the images that survive ------------------------------------------


@pytest.fixture
def ecr(mocked_aws: None) -> Any:
    return boto3.client("ecr", region_name="us-east-1")


def _check(ecr: Any, monkeypatch: pytest.MonkeyPatch, request: str, tag: str) -> tuple[str, str]:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(handler_module, "respond", lambda event, status, reason: sent.append((status, reason)))
    event = {
        "RequestType": request,
        "ResourceProperties": {"Images": [{"Repository": "dev-davidshaevel/backend", "Tag": tag}]},
        "ResponseURL": "https://example.invalid/response",
        "StackId": "stack",
        "RequestId": "request",
        "LogicalResourceId": "Check",
    }
    handler_module.handler(event, None, ecr)
    (answer,) = sent
    return answer


def test_the_check_passes_in_every_case_on_what_the_lifecycle_keeps(
    dev: Synthesized, ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(_policy(dev))
    registry.push("initial")
    for build in range(1, 40):
        registry.push(f"sha-{build:07d}")
        if build in (5, 30):
            registry.release(f"sha-{build:07d}")
    ecr.create_repository(repositoryName="dev-davidshaevel/backend")
    for image in registry.images:
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": f"sha256:{image.pushed:064d}"},
            }
        )
        for tag in sorted(image.tags):
            ecr.put_image(repositoryName="dev-davidshaevel/backend", imageManifest=manifest, imageTag=tag)
    # An infrastructure deploy after many builds: the running release is still there.
    assert _check(ecr, monkeypatch, "Update", "sha-0000030")[0] == "SUCCESS"
    # A release of a new build, and a roll-back to the previous release.
    assert _check(ecr, monkeypatch, "Update", "sha-0000039")[0] == "SUCCESS"
    assert _check(ecr, monkeypatch, "Update", "sha-0000005")[0] == "SUCCESS"
    # The first deploy's image, which a failed first release rolls back to.
    assert _check(ecr, monkeypatch, "Update", "initial")[0] == "SUCCESS"
    # A build that was never released and has expired is refused at once, naming it.
    status, reason = _check(ecr, monkeypatch, "Update", "sha-0000006")
    assert status == "FAILED"
    assert reason.startswith("Images not in ECR: dev-davidshaevel/backend:sha-0000006.")


def test_a_first_deploy_without_its_images_fails_at_once(ecr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ecr.create_repository(repositoryName="dev-davidshaevel/backend")
    status, reason = _check(ecr, monkeypatch, "Create", "initial")
    assert status == "FAILED"
    assert "Push them first" in reason
