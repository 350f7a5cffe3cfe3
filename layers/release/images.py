"""The release's images: each service's image with the tag marked ``release-<time>`` before
anything is touched, and the marks tidied at the end, success or failure, to what runs and
what a roll-back returns to. The repositories' lifecycle never expires a marked image."""

from __future__ import annotations

from layers.release.state_names import describe_state
from layers.release.states import ERROR_TEXT, TRANSIENT_RETRY, ReleaseContext, State, aws_call, jsonata
from platform_spec.names import RELEASE_TAG_PREFIX, image_tag_parameter

# Without acceptedMediaTypes BatchGetImage answers only for an image manifest, so a tag that
# holds an image index or a manifest list would look absent (ECR API reference, BatchGetImage).
ACCEPTED_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
# BatchDeleteImage takes at most 100 image ids a call (ECR API reference).
DELETE_BATCH = 100


def _items(release: ReleaseContext) -> list[dict[str, str]]:
    """One item per service: its repository and its tag parameter."""
    return [
        {"repository": name, "tagKey": image_tag_parameter(service)}
        for service, name in sorted(release.targets.repositories.items())
    ]


def mark_images(release: ReleaseContext) -> dict[str, State]:
    """Each service's image is looked up and given the release's tag; a missing image
    ends the release before anything is touched."""
    return {
        "MarkImages": {
            "Type": "Map",
            "Items": _items(release),
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "GetImage",
                "States": {
                    "GetImage": aws_call(
                        "ecr:batchGetImage",
                        {
                            "RepositoryName": jsonata("$states.input.repository"),
                            "ImageIds": [{"ImageTag": jsonata("$imageTag")}],
                            "AcceptedMediaTypes": list(ACCEPTED_MEDIA_TYPES),
                        },
                        Output=jsonata(
                            "{'repository': $states.input.repository, 'image': $states.result.Images[0],"
                            " 'failure': $states.result.Failures[0]}"
                        ),
                        Next="ImageFound",
                    ),
                    "ImageFound": {
                        "Type": "Choice",
                        "Choices": [
                            {"Condition": jsonata("$exists($states.input.image.ImageManifest)"), "Next": "TagImage"}
                        ],
                        "Default": "ImageMissing",
                    },
                    "ImageMissing": {
                        "Type": "Fail",
                        "Error": "ImageMissing",
                        "Cause": jsonata(
                            "$states.input.repository & ':' & $imageTag & ' is not in ECR'"
                            " & ($exists($states.input.failure) ? ' (' & $states.input.failure.FailureCode"
                            " & ': ' & $states.input.failure.FailureReason & ')' : '')"
                        ),
                    },
                    # The mark goes on exactly the manifest looked up, in its own media type.
                    "TagImage": aws_call(
                        "ecr:putImage",
                        {
                            "RepositoryName": jsonata("$states.input.repository"),
                            "ImageManifest": jsonata("$states.input.image.ImageManifest"),
                            "ImageManifestMediaType": jsonata("$states.input.image.ImageManifestMediaType"),
                            "ImageDigest": jsonata("$states.input.image.ImageId.ImageDigest"),
                            "ImageTag": jsonata("$releaseTag"),
                        },
                        End=True,
                    ),
                },
            },
            "Assign": {"marked": True},
            # Some images may be marked already: the failure path removes this release's marks.
            "Catch": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "Assign": {"failedStep": "MarkImages", "failure": jsonata(ERROR_TEXT), "marked": True},
                    "Next": "ReleaseFailed",
                }
            ],
            "Next": describe_state(release.targets.migrations.step),
        }
    }


def tidy_marks(release: ReleaseContext) -> dict[str, State]:
    """``TidyMarks`` keeps the marked images to what runs and what a roll-back returns to, per
    repository; ``Tidied`` then ends the release, released or failed (the notice).

    Each repository's marks are listed. Where the service now runs the new tag (what
    runs changed), every ``release-`` tag goes except this release's and the newest on the
    previous image, the roll-back target. Where it runs the tag it ran before (a failure,
    or nothing to change), the marks on its image stay, and so do the marks older than
    its newest: the roll-back target, which the release that made it run kept. Every other
    mark goes: this release's, and those of releases stopped before they tidied. When what
    runs is unknown nothing is removed. Deleting by tag removes only that tag while the
    image keeps its others ("You can remove a tag from an image by specifying the image's
    tag in your request", ECR API reference, BatchDeleteImage): a build tag is never deleted."""
    running, previous = "$lookup($runs, $states.input.tagKey)", "$lookup($previousTags, $states.input.tagKey)"
    choose = (
        f"($marks := $listed[$substring(ImageTag, 0, {len(RELEASE_TAG_PREFIX)}) = '{RELEASE_TAG_PREFIX}'];"
        f" $image := $listed[ImageTag = {running}].ImageDigest;"
        f" $before := $listed[ImageTag = {previous}].ImageDigest;"
        f" $drop := {running} = $imageTag and {previous} != $imageTag"
        "  ? ($keep := [$releaseTag, $sort($marks[ImageDigest = $before].ImageTag)[-1]];"
        "     $marks[$not(ImageTag in $keep)])"
        "  : ($since := $sort($marks[ImageDigest = $image and ImageTag != $releaseTag].ImageTag)[-1];"
        "     $marks[ImageDigest != $image"
        "       and (ImageTag = $releaseTag or $not($exists($since)) or ImageTag > $since)]);"
        " $append([], $drop.{'ImageTag': ImageTag}))"
    )
    repository = jsonata("$states.input.repository")
    tidy = {
        "Type": "Map",
        "Items": _items(release),
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "WhichMarks",
            "States": {
                "WhichMarks": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Condition": jsonata("$type($runs) = 'object'"),
                            "Assign": {"listed": [], "pageToken": None},
                            "Next": "ListMarks",
                        }
                    ],
                    "Default": "MarksKept",
                },
                "ListMarks": aws_call(
                    "ecr:listImages",
                    jsonata(
                        "$merge([{'RepositoryName': $states.input.repository, 'Filter': {'TagStatus': 'TAGGED'},"
                        " 'MaxResults': 1000}, $type($pageToken) = 'string' ? {'NextToken': $pageToken} : {}])"
                    ),
                    Retry=TRANSIENT_RETRY,
                    Assign={
                        "listed": jsonata("$append($listed, $states.result.ImageIds)"),
                        "pageToken": jsonata("$exists($states.result.NextToken) ? $states.result.NextToken : null"),
                    },
                    Output=jsonata("$states.input"),
                    Next="MoreMarks",
                ),
                "MoreMarks": {
                    "Type": "Choice",
                    "Choices": [{"Condition": jsonata("$type($pageToken) = 'string'"), "Next": "ListMarks"}],
                    "Default": "ChooseMarks",
                },
                "ChooseMarks": {"Type": "Pass", "Assign": {"dropping": jsonata(choose)}, "Next": "MoreToDrop"},
                "MoreToDrop": {
                    "Type": "Choice",
                    "Choices": [{"Condition": jsonata("$count($dropping) > 0"), "Next": "DropMarks"}],
                    "Default": "MarksKept",
                },
                "DropMarks": aws_call(
                    "ecr:batchDeleteImage",
                    {
                        "RepositoryName": repository,
                        "ImageIds": jsonata(f"$append([], $dropping[[0..{DELETE_BATCH - 1}]])"),
                    },
                    Retry=TRANSIENT_RETRY,
                    Assign={
                        "dropping": jsonata(
                            f"$append([], $filter($dropping, function($v, $i) {{ $i >= {DELETE_BATCH} }}))"
                        )
                    },
                    Output=jsonata("$states.input"),
                    Next="MoreToDrop",
                ),
                "MarksKept": {"Type": "Succeed"},
            },
        },
        # Extra marks only keep images longer: the release's outcome stands, and says so.
        "Catch": [
            {
                "ErrorEquals": ["States.ALL"],
                "Assign": {"marksNote": jsonata(f"'the release- marks were not tidied: ' & {ERROR_TEXT}")},
                "Next": "Tidied",
            }
        ],
        "Next": "Tidied",
    }
    return {
        "TidyMarks": tidy,
        "Tidied": {
            "Type": "Choice",
            "Choices": [{"Condition": jsonata("$released"), "Next": "Released"}],
            "Default": "NotifyFailure",
        },
    }
