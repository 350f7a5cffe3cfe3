"""Third-party images come through the data stack's ECR pull-through cache, pinned by digest, and
the database bootstrap verifies the server it gives the master password to.

ECR imports an image on its first pull through a cache rule, with the puller's
``ecr:BatchImportUpstreamImage`` and, the first time, ``ecr:CreateRepository`` (Amazon ECR user
guide, "IAM permissions required to sync an upstream registry with an Amazon ECR private registry":
https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html). libpq checks
the server's certificate and name only with ``sslmode=verify-full`` and a root certificate
(PostgreSQL docs, "SSL Support", 34.19; Amazon RDS user guide, "Using SSL/TLS to encrypt a
connection to a DB instance or cluster":
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from aws_model.cloudformation import Deployment
from aws_model.iam import Principal, Request, evaluate
from aws_model.ledger import Entry, check_ledger
from layers.compute import rds_certificates
from layers.compute.database_bootstrap import CERTIFICATES_VARIABLE, CONTAINER
from platform_spec import PlatformSpec, SpecError
from platform_spec.names import COMPUTE, DATA
from platform_spec.profiles import PROFILES
from platform_spec.workloads import (
    CACHE_PREFIX_LIMIT,
    HelperImagesSpec,
    ImageMirrorSpec,
    MirroredRegistry,
    cache_prefix,
)
from tests.platform_synth import Synthesized
from tests.templates import deployment_of, ledger_of, pulled_image
from tools.images import repository_name

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _third_party(spec: PlatformSpec) -> tuple[str, ...]:
    grafana = (spec.grafana.image,) if spec.grafana else ()
    return (spec.prometheus.image, spec.alertmanager.image, *grafana, *spec.helper_images.all)


def _registry(deployment: Deployment) -> str:
    return f"{deployment.account}.dkr.ecr.{deployment.region}.amazonaws.com/"


def _containers(deployment: Deployment) -> list[dict[str, Any]]:
    return [
        container
        for stack in deployment.stacks
        for body in deployment.resources(stack, "AWS::ECS::TaskDefinition").values()
        for container in deployment.resolve(stack, body["Properties"])["ContainerDefinitions"]
    ]


def test_every_third_party_image_is_pulled_from_the_cache_by_digest(profile: Synthesized) -> None:
    spec, deployment = profile.spec, deployment_of(profile)
    registry = _registry(deployment)
    own = {f"{registry}{repository_name(spec, service)}" for service in spec.services}
    images = {str(c["Image"]) for c in _containers(deployment)}
    third_party = {i for i in images if i.split("@")[0].rsplit(":", 1)[0] not in own}
    assert third_party == {pulled_image(profile, image) for image in _third_party(spec)}
    for image in third_party:
        assert DIGEST.search(image), f"{image} is not pinned by digest"
    cached = {i for i in third_party if i.startswith(registry)}
    prefixes = tuple(f"{registry}{cache_prefix(spec.stack_prefix, r)}/" for r in spec.image_mirror.registries)
    assert cached
    assert all(i.startswith(prefixes) for i in cached), cached
    # Only images of registries the spec does not cache (Grafana's Docker Hub) are pulled directly.
    assert {i for i in third_party - cached if spec.image_mirror.registry(i) is not None} == set()


def test_the_data_stack_has_one_cache_rule_per_registry_of_the_spec(profile: Synthesized) -> None:
    template = profile.template_json(DATA)
    rules = {
        (p["EcrRepositoryPrefix"], p["UpstreamRegistry"], p["UpstreamRegistryUrl"])
        for body in template["Resources"].values()
        if body["Type"] == "AWS::ECR::PullThroughCacheRule"
        for p in [body["Properties"]]
    }
    assert rules == {
        (cache_prefix(profile.spec.stack_prefix, r), r.upstream_registry, r.host)
        for r in profile.spec.image_mirror.registries
    }
    for body in template["Resources"].values():
        if body["Type"] == "AWS::ECR::PullThroughCacheRule":
            assert "CredentialArn" not in body["Properties"]


def test_pulls_through_the_cache_are_allowed_on_each_images_own_repository_only(profile: Synthesized) -> None:
    spec, deployment = profile.spec, deployment_of(profile)
    entries = [e for e in ledger_of(profile, deployment) if isinstance(e, Entry)]
    # The tasks' imports; the data stack's cache warmer has its own (tests/synth/test_mirror_warmer.py).
    imports = [
        e
        for e in entries
        if e.action in ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository")
        and not e.purpose.startswith("warm the image cache")
    ]
    pulled = {
        c["Name"]
        for c in _containers(deployment)
        if any(
            str(c["Image"]).startswith(f"{_registry(deployment)}{cache_prefix(spec.stack_prefix, r)}/")
            for r in spec.image_mirror.registries
        )
    }
    assert pulled, "no container pulls through the cache"
    assert {e.purpose.split(":")[0] for e in imports} == pulled
    assert [str(f) for f in check_ledger(deployment, imports)] == []
    for entry in imports:
        assert entry.caller.role is not None
        sibling = f"{entry.resource}-not-this-one"
        decision = evaluate(
            Request(Principal("AWS", entry.caller.principal.value), entry.action, sibling),
            account=deployment.account,
            identity_policies=deployment.identity_policies(*entry.caller.role),
            resource_policy=None,
        )
        assert not decision.allowed, f"{entry.caller.label} may {entry.action} {sibling}"


# --- the bootstrap verifies the server -------------------------------------------------------


def _bootstrap(synth: Synthesized) -> tuple[dict[str, Any], dict[str, str]]:
    deployment = deployment_of(synth)
    compute = synth.stack_name(COMPUTE)
    for body in deployment.resources(compute, "AWS::ECS::TaskDefinition").values():
        props = deployment.resolve(compute, body["Properties"])
        for container in props["ContainerDefinitions"]:
            if container["Name"] == CONTAINER:
                return container, {e["Name"]: str(e["Value"]) for e in container["Environment"]}
    raise AssertionError("no bootstrap container")


def _psql_stub(directory: Path) -> Path:
    """A ``psql`` that records the root certificate it was pointed at, and succeeds."""
    stub = directory / "psql"
    stub.write_text('#!/bin/sh\ncat "$PGSSLROOTCERT" > "$SEEN_ROOT"\ncat > /dev/null\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return stub


def test_the_bootstrap_verifies_the_server_against_the_regions_rds_roots(profile: Synthesized, tmp_path: Path) -> None:
    container, environment = _bootstrap(profile)
    assert environment["PGSSLMODE"] == "verify-full"
    root = environment["PGSSLROOTCERT"]
    writable = [m["ContainerPath"] for m in container.get("MountPoints", []) if not m.get("ReadOnly")]
    assert any(root.startswith(f"{path.rstrip('/')}/") for path in writable), (root, writable)
    # The task's own command puts the certificates there before psql runs.
    _psql_stub(tmp_path)
    seen = tmp_path / "seen.pem"
    run = subprocess.run(
        [*container["EntryPoint"], *container["Command"]],
        env={
            "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
            **environment,
            "PGSSLROOTCERT": str(tmp_path / "root.pem"),
            "SEEN_ROOT": str(seen),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert seen.read_text() == environment[CERTIFICATES_VARIABLE]
    certificates = x509.load_pem_x509_certificates(seen.read_bytes())
    now = datetime.now(UTC)
    names = set()
    for certificate in certificates:
        (name,) = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        names.add(str(name.value))
        assert certificate.issuer == certificate.subject, "a root certifies itself"
        assert certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc
    assert names == {f"Amazon RDS {profile.spec.region} Root CA {kind} G1" for kind in rds_certificates.ROOT_KINDS}


def test_a_bundle_other_than_the_reviewed_one_fails_the_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    changed = tmp_path / "bundle.pem"
    changed.write_bytes(rds_certificates.BUNDLE.read_bytes() + b"\n")
    monkeypatch.setattr(rds_certificates, "BUNDLE", changed)
    with pytest.raises(rds_certificates.BundleChangedError, match="not the reviewed"):
        rds_certificates.region_roots(PROFILES["dev"]().region)


# --- the spec ---------------------------------------------------------------------------------


def test_every_third_party_image_of_the_spec_is_pinned_by_digest(profile: Synthesized) -> None:
    for image in _third_party(profile.spec):
        assert DIGEST.search(image), image
    tag_only = profile.spec.helper_images.database_client.split("@")[0]
    with pytest.raises(SpecError, match=r"^helper_images\.database_client: .*digest"):
        HelperImagesSpec(database_client=tag_only)


def test_a_long_stack_prefix_is_shortened_and_kept_distinct_and_a_long_name_refused() -> None:
    """ECR takes at most 30 characters of prefix: a longer stack prefix keeps its start and a hash,
    so two long ones that share a start still differ; a registry name that cannot fit is refused."""
    registries = ImageMirrorSpec().registries
    first, second = "a" * 30 + "-one", "a" * 30 + "-two"
    for registry in registries:
        prefixes = {cache_prefix(p, registry) for p in (first, second)}
        assert len(prefixes) == 2
        assert all(len(p) <= CACHE_PREFIX_LIMIT for p in prefixes)
    ImageMirrorSpec().check_prefixes(first)
    # Even the hash alone (6 characters and a '/') leaves no room for a name this long.
    crowded = MirroredRegistry(host="quay.io", upstream_registry="quay", name="q" * (CACHE_PREFIX_LIMIT - 6))
    with pytest.raises(SpecError, match=r"^image_mirror\.registries\.name: .*30 characters"):
        ImageMirrorSpec(registries=(crowded,)).check_prefixes("x" * CACHE_PREFIX_LIMIT)
