"""The release's images, executed (tests/stepfunctions) against the world of
tests/release_world.py: each image is found whatever manifest type holds its tag, and marked
in that type; and the ``release-`` marks are kept to what runs and what a roll-back returns
to, which is what tests/synth/test_image_lifecycle.py plays the repositories' lifecycle with."""

from __future__ import annotations

import pytest

from platform_spec.names import RELEASE_TAG_PREFIX
from tests.release_responses import (
    DELETE_IMAGES,
    DESCRIBE_SERVICES,
    GET_IMAGE,
    LIST_IMAGES,
    RELEASE_TAG,
    REMOVED_AFTER_CHANGE,
    REMOVED_AFTER_FAILURE,
    digest,
    image,
)
from tests.release_world import PLATFORMS, Case, World, arguments, plain_worlds, run_cases
from tests.stepfunctions.runner import Scenario, Trace, error, result

# Docker image manifest v2, Docker manifest list, OCI image manifest, OCI image index: a tag
# pushed by docker buildx (with or without attestations) or by another tool is one of these.
MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
MANY = 150  # more stale marks than one BatchDeleteImage takes (100)


def _many_marks() -> list[dict[str, str]]:
    return [{"ImageDigest": digest("older"), "ImageTag": f"{RELEASE_TAG_PREFIX}202610{n:04d}"} for n in range(MANY)]


def _scenarios(world: World) -> dict[str, Scenario]:
    released = {
        **world.until_released(),
        f"{DESCRIBE_SERVICES}#CheckServices": [world.released()],
        **world.one_off_run("SmokeTests"),
    }
    smoke_fail = {**released, **world.one_off_run("SmokeTests", exit_code=1), **world.restored()}
    many = [result({"ImageIds": [*_many_marks(), {"ImageDigest": digest("new"), "ImageTag": RELEASE_TAG}]})]
    return {
        **{
            f"a tag held by {media}": world.scenario(
                {**released, **world.tidied(), GET_IMAGE: [image(r, media) for r in world.repositories]}
            )
            for media in MEDIA_TYPES
        },
        "a release": world.scenario({**released, **world.tidied()}),
        "a release whose marks take two pages": world.scenario({**released, **world.tidied(pages=2)}),
        "a release that leaves more marks than one call removes": world.scenario(
            {
                **released,
                LIST_IMAGES: many * len(world.repositories),
                DELETE_IMAGES: [result({"ImageIds": [], "Failures": []})] * 2 * len(world.repositories),
            }
        ),
        "a release whose marks cannot be listed": world.scenario(
            # Retried as any read is (three more times), then the Map stops at its first repository.
            {**released, LIST_IMAGES: [error("ECR.AccessDeniedException", "not authorized: ecr:ListImages")] * 4}
        ),
        "a failed release with the previous tags back": world.scenario(smoke_fail),
    }


@pytest.fixture(scope="module")
def cases() -> dict[tuple[str, str], Case]:
    return run_cases(plain_worlds(), _scenarios)


def _case(cases: dict[tuple[str, str], Case], platform: str, name: str, *, status: str = "SUCCEEDED") -> Case:
    case = cases[(platform, name)]
    assert case.trace.status == status, f"{case.trace.error}: {case.trace.cause}"
    assert case.trace.unconsumed_responses == {}, case.trace.unconsumed_responses
    return case


def _removed(trace: Trace) -> dict[str, list[str]]:
    """The tags each repository had removed, in order."""
    removed: dict[str, list[str]] = {}
    for call in arguments(trace, DELETE_IMAGES):
        removed.setdefault(call["RepositoryName"], []).extend(i["ImageTag"] for i in call["ImageIds"])
    return removed


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("media", MEDIA_TYPES)
def test_an_image_of_any_manifest_type_is_found_and_marked_in_its_type(
    cases: dict[tuple[str, str], Case], platform: str, media: str
) -> None:
    """Without acceptedMediaTypes, ECR answers BatchGetImage for an image index or manifest
    list with a failure, and the release said the image was not in ECR. The answer scripted
    here is one ECR gives only to a request that accepts its type."""
    trace = _case(cases, platform, f"a tag held by {media}").trace
    for lookup in arguments(trace, GET_IMAGE):
        assert set(lookup["AcceptedMediaTypes"]) == set(MEDIA_TYPES), lookup
    for mark in arguments(trace, "arn:aws:states:::aws-sdk:ecr:putImage"):
        assert mark["ImageManifestMediaType"] == media
        assert mark["ImageDigest"] == digest("new"), "the mark goes on the manifest looked up"
        assert mark["ImageTag"] == RELEASE_TAG


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", ["a release", "a release whose marks take two pages"])
def test_a_release_keeps_marked_only_what_runs_and_what_a_roll_back_returns_to(
    cases: dict[tuple[str, str], Case], platform: str, name: str
) -> None:
    case = _case(cases, platform, name)
    listed = arguments(case.trace, LIST_IMAGES)
    assert {call["RepositoryName"] for call in listed} == set(case.world.repositories)
    assert all(call["Filter"] == {"TagStatus": "TAGGED"} for call in listed)
    if "two pages" in name:
        assert [call.get("NextToken") for call in listed[:2]] == [None, "page-2"]
    removed = _removed(case.trace)
    assert set(removed) == set(case.world.repositories)
    for tags in removed.values():
        # Kept: this release's mark (what runs) and the previous image's newest (the roll-back target).
        assert set(tags) == REMOVED_AFTER_CHANGE
        assert all(t.startswith(RELEASE_TAG_PREFIX) for t in tags), "a build tag is never removed"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_marks_are_removed_a_hundred_at_a_time(cases: dict[tuple[str, str], Case], platform: str) -> None:
    case = _case(cases, platform, "a release that leaves more marks than one call removes")
    calls = arguments(case.trace, DELETE_IMAGES)
    assert [len(c["ImageIds"]) for c in calls] == [100, MANY - 100] * len(case.world.repositories)
    for tags in _removed(case.trace).values():
        assert sorted(tags) == sorted(m["ImageTag"] for m in _many_marks())


@pytest.mark.parametrize("platform", PLATFORMS)
def test_marks_that_cannot_be_tidied_do_not_fail_a_release(cases: dict[tuple[str, str], Case], platform: str) -> None:
    """An extra mark only keeps an image longer: the release stands, and says so."""
    trace = _case(cases, platform, "a release whose marks cannot be listed").trace
    assert "ecr:ListImages" in trace.output["warning"]
    assert arguments(trace, DELETE_IMAGES) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_failed_release_removes_its_own_mark_and_keeps_the_roll_back_target(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    """The previous tags run again: their image and its roll-back target (marked before the
    release that made it run) keep their marks; the failed image and a build an interrupted
    release marked after it no longer take a place among the marked ones."""
    case = _case(cases, platform, "a failed release with the previous tags back", status="FAILED")
    assert {call["RepositoryName"] for call in arguments(case.trace, LIST_IMAGES)} == set(case.world.repositories)
    assert {r: set(tags) for r, tags in _removed(case.trace).items()} == {
        r: REMOVED_AFTER_FAILURE for r in case.world.repositories
    }
