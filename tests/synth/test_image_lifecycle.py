"""The images a service runs or may roll back to never expire, and the deploy-time image
check passes on what the repositories keep: the repositories' lifecycle policy, read from the
synthesized template and evaluated as ECR documents it, played against a repository through
a platform's life, with the release marking and unmarking images as the release state
machine does (tests/synth/test_release_marks.py holds it to that).

Amazon ECR user guide, "Lifecycle policy evaluation rules"
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html#lp_evaluation_rules):
rules are applied in priority order; "An image that matches the tagging requirements of a
higher priority rule cannot be expired by a rule with a lower priority"; with
``imageCountMoreThan`` the matching images are sorted newest first by push time (adding a tag
later does not change it: aws/containers-roadmap#2746) and those past the count expire; a
``tagPrefixList`` matches an image when every prefix matches one of its tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from layers.data.image_repositories import lifecycle_rules
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


def _marks(image: Image) -> list[str]:
    return sorted(t for t in image.tags if t.startswith(RELEASE_TAG_PREFIX))


@dataclass
class Registry:
    """One repository through a platform's life: builds pushed, some released."""

    rules: list[dict[str, Any]]
    tidies: bool = True
    """The release removes the marks no longer needed (since issue 24); before, it only added them."""
    images: list[Image] = field(default_factory=list)
    clock: int = 0
    running: str = "initial"
    target: str = "initial"
    """What a roll-back returns to: what ran before the last release that changed what runs."""

    def push(self, tag: str) -> None:
        self.clock += 1
        self.images.append(Image(self.clock, {tag}))
        self.images = expire(self.images, self.rules)

    def find(self, tag: str) -> Image:
        found = [i for i in self.images if tag in i.tags]
        assert len(found) == 1, f"{tag} is not in the repository: it expired"
        return found[0]

    def has(self, tag: str) -> bool:
        return any(tag in i.tags for i in self.images)

    def release(self, tag: str, *, ok: bool = True) -> None:
        """What the release state machine does to the repository: mark the image, and once
        it ends keep the marks to what runs and what a roll-back returns to
        (``layers.release.images.tidy_marks``). The lifecycle may run at any time between."""
        self.clock += 1
        mark = f"{RELEASE_TAG_PREFIX}{self.clock:08d}"
        self.find(tag).tags.add(mark)
        self.images = expire(self.images, self.rules)
        previous = self.running
        if ok and tag != previous:
            self.running, self.target = tag, previous
        if self.tidies:
            self._tidy(mark, changed=ok and tag != previous, previous=previous)
        self.images = expire(self.images, self.rules)

    def _tidy(self, mark: str, *, changed: bool, previous: str) -> None:
        running = self.find(self.running)
        if changed:
            keep = {mark, *_marks(self.find(previous))[-1:]}
            for image in self.images:
                image.tags -= set(_marks(image)) - keep
            return
        since = [t for t in _marks(running) if t != mark][-1:]
        for image in self.images:
            if image is not running:
                image.tags -= {t for t in _marks(image) if t == mark or not since or t > since[0]}


def _build(number: int) -> str:
    return f"sha-{number:07d}"


def _play(registry: Registry) -> None:
    """A platform's life: builds, releases, a release of an older build, ten failed
    releases, a roll-back. After each step, what runs and what a roll-back returns to is there."""

    def check(step: str) -> None:
        assert registry.has(registry.running), f"{step}: the running {registry.running} expired"
        assert registry.has(registry.target), f"{step}: the roll-back target {registry.target} expired"

    registry.push("initial")
    for build in range(1, 31):
        registry.push(_build(build))
        if build in (5, 12, 28):
            registry.release(_build(build))
        check(f"build {build}")
    registry.release(_build(22))  # an older build than the one that runs, still kept
    check("the release of an older build")
    for build in range(31, 51):
        registry.push(_build(build))
        check(f"build {build}")
    for build in range(51, 61):
        registry.push(_build(build))
        registry.release(_build(build), ok=False)
        check(f"failed release of {_build(build)}")
    registry.release(registry.target)
    check("the roll-back")


def test_what_runs_and_what_a_roll_back_returns_to_never_expires(profile: Synthesized) -> None:
    registry = Registry(_policy(profile))
    _play(registry)
    assert (registry.running, registry.target) == (_build(28), _build(22))
    marked = {t for i in registry.images for t in i.tags if not t.startswith(RELEASE_TAG_PREFIX) and _marks(i)}
    assert marked == {registry.running, registry.target}, "only these two stay marked"
    assert len(registry.images) <= profile.spec.images_kept + 3, "storage stays bounded"


def test_marks_the_release_never_removed_expire_what_runs(profile: Synthesized) -> None:
    """The same life with the release as it was before issue 24 (marks added, never removed):
    the ten failed releases' marks push the running older build out of the newest marked
    images, by push time."""
    registry = Registry(_policy(profile), tidies=False)
    with pytest.raises(AssertionError, match=r"failed release of sha-\d+: the running sha-0000022 expired"):
        _play(registry)


def test_the_least_marked_count_still_holds_a_release_in_progress(dev: Synthesized) -> None:
    """With the fewest releases kept the spec allows (2), the first rule still keeps what runs,
    its roll-back target and the image a release marks while it runs."""
    rules = lifecycle_rules(initial_tag="initial", releases_kept=2, images_kept=dev.spec.images_kept)
    policy = [
        {
            "rulePriority": r.rule_priority,
            "selection": {
                "tagStatus": r.tag_status.value.lower() if r.tag_status else "any",
                **({"tagPrefixList": r.tag_prefix_list} if r.tag_prefix_list else {}),
                "countType": "imageCountMoreThan",
                "countNumber": r.max_image_count,
            },
        }
        for r in rules
    ]
    _play(Registry(policy))


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
