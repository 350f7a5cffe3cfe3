"""The deploy-time image check: its handler against moto's ECR, and its wiring."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from platform_spec.names import COMPUTE, image_tag_parameter
from tests.deploy_hooks import load_hook
from tests.platform_synth import Synthesized

handler_module = load_hook("images_present")
response_module = load_hook("cfn_response")


@pytest.fixture
def ecr(mocked_aws: None) -> Any:
    client = boto3.client("ecr", region_name="us-east-1")
    client.create_repository(repositoryName="dev-davidshaevel/backend")
    client.create_repository(repositoryName="dev-davidshaevel/frontend")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"})
    client.put_image(repositoryName="dev-davidshaevel/backend", imageManifest=manifest, imageTag="initial")
    return client


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(handler_module, "respond", lambda event, status, reason: sent.append((status, reason)))
    return sent


def _event(request_type: str, images: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResourceProperties": {"Images": [{"Repository": r, "Tag": t} for r, t in images]},
        "ResponseURL": "https://example.invalid/response",
        "StackId": "stack",
        "RequestId": "request",
        "LogicalResourceId": "Check",
    }


def test_passes_when_every_image_is_pushed(ecr: Any, responses: list[tuple[str, str]]) -> None:
    handler_module.handler(_event("Create", [("dev-davidshaevel/backend", "initial")]), None, ecr)
    assert responses == [("SUCCESS", "every image is present")]


def test_fails_naming_each_missing_image(ecr: Any, responses: list[tuple[str, str]]) -> None:
    images = [
        ("dev-davidshaevel/backend", "initial"),
        ("dev-davidshaevel/backend", "sha-123"),
        ("dev-davidshaevel/frontend", "initial"),
        ("dev-davidshaevel/nothing", "initial"),
    ]
    handler_module.handler(_event("Update", images), None, ecr)
    ((status, reason),) = responses
    assert status == "FAILED"
    assert reason.startswith(
        "Images not in ECR: dev-davidshaevel/backend:sha-123, dev-davidshaevel/frontend:initial, "
        "dev-davidshaevel/nothing:initial. Push them first"
    )


def test_delete_never_blocks(ecr: Any, responses: list[tuple[str, str]]) -> None:
    handler_module.handler(_event("Delete", [("dev-davidshaevel/frontend", "missing")]), None, ecr)
    assert responses == [("SUCCESS", "nothing to check on delete")]


def test_an_unexpected_error_is_reported_not_left_hanging(responses: list[tuple[str, str]]) -> None:
    class Broken:
        class exceptions:  # noqa: N801 (mirrors boto3's client.exceptions)
            ImageNotFoundException = KeyError
            RepositoryNotFoundException = KeyError

        def describe_images(self, **_: Any) -> None:
            raise RuntimeError("throttled")

    handler_module.handler(_event("Create", [("r", "t")]), None, Broken())
    assert responses == [("FAILED", "could not check the images: throttled")]


def test_response_reaches_cloudformation(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *_: object) -> None:
            return None

        def read(self) -> bytes:
            return b""

    def urlopen(request: Any, timeout: int) -> Response:
        captured.update(url=request.full_url, method=request.get_method(), body=json.loads(request.data))
        return Response()

    monkeypatch.setattr(response_module.urllib.request, "urlopen", urlopen)
    response_module.respond(_event("Create", []), "FAILED", "why")
    assert captured["method"] == "PUT"
    assert captured["url"] == "https://example.invalid/response"
    assert captured["body"]["Status"] == "FAILED"
    assert captured["body"]["Reason"] == "why"


def test_every_service_waits_for_the_check_of_every_image(profile: Synthesized) -> None:
    resources = profile.template_json(COMPUTE)["Resources"]
    (check_id,) = [k for k, v in resources.items() if v["Type"] == "Custom::ImagesPresent"]
    images = resources[check_id]["Properties"]["Images"]
    assert [image["Tag"] for image in images] == [{"Ref": image_tag_parameter(s.name)} for s in profile.spec.services]
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::ECS::Service":
            assert check_id in resource["DependsOn"], logical_id
