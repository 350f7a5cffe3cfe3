"""The rules the spec's fields are checked against: Fargate sizes, ports, names, images,
networks and the other values AWS accepts only in certain forms."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from platform_spec.errors import SpecError

Architecture = Literal["ARM64", "X86_64"]

# CPU units -> memory sizes (MiB) that Fargate accepts for that CPU.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# NFS, the only protocol EFS speaks.
NFS_PORT = 2049
HTTP_PORT = 80
HTTPS_PORT = 443

DNS_LABEL_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
CONTAINER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
IMAGE_TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
PROJECT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
NAMESPACE_PATTERN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
PINNED_IMAGE_PATTERN = re.compile(
    r"^(?P<registry>[a-z0-9.-]+(:[0-9]+)?)/(?P<path>[a-z0-9._/-]+)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(?P<digest>@sha256:[0-9a-f]{64})?$"
)
ZONE_ID_PATTERN = re.compile(r"^[a-z]{2,5}[0-9]-az[0-9]{1,2}$")
PREFIX_LIST_PATTERN = re.compile(r"^pl-[0-9a-f]{8,17}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def check_port(field_name: str, port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise SpecError(field_name, port, "port must be a whole number from 1 to 65535")


def check_url_path(field_name: str, path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/"):
        raise SpecError(field_name, path, "path must start with '/'")
    if any(ch.isspace() for ch in path):
        raise SpecError(field_name, path, "path must not contain white space")


def check_image_tag(field_name: str, tag: str) -> None:
    if not isinstance(tag, str) or not IMAGE_TAG_PATTERN.match(tag):
        raise SpecError(
            field_name,
            tag,
            "image tag must be 1-128 characters of letters, digits, '_', '.' or '-', not starting with '.' or '-'",
        )


def check_log_retention(field_name: str, days: int) -> None:
    if days not in LOG_RETENTION_DAYS:
        raise SpecError(field_name, days, "not a retention period CloudWatch Logs offers")


def check_posix_id(field_name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**32 - 2:
        raise SpecError(field_name, value, "not a POSIX user or group id")


# Names PostgreSQL or RDS already use, which the spec must not take for its own.
RESERVED_NAMES = frozenset(
    {"public", "postgres", "rds_iam", "rds_superuser", "rdsadmin", "pg_catalog", "information_schema"}
)

_DIRECTIONS = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c", "gov": "g"}


def region_zone_prefix(region: str) -> str:
    """How zone ids abbreviate a region: ``us-east-1`` -> ``use1``, ``ap-northeast-1`` -> ``apne1``."""
    parts = region.split("-")
    middle = ""
    for part in parts[1:-1]:
        word = part
        for direction, letter in (("north", "n"), ("south", "s")):
            if word.startswith(direction) and word != direction:
                middle += letter
                word = word.removeprefix(direction)
        middle += _DIRECTIONS.get(word, word)
    return parts[0] + middle + parts[-1]


def check_pinned_image(field_name: str, image: str, *, digest: bool = False) -> None:
    """A public image reference with an explicit version tag (never ``latest``), and with
    ``digest`` also its content digest (``name:tag@sha256:...``), which no push can move."""
    match = PINNED_IMAGE_PATTERN.match(image) if isinstance(image, str) else None
    if match is None or match["tag"] == "latest":
        raise SpecError(field_name, image, "must name an image pinned by version (registry/name:tag, not 'latest')")
    if digest and not match["digest"]:
        raise SpecError(field_name, image, "must also name the image's digest (registry/name:tag@sha256:...)")


def image_parts(image: str) -> tuple[str, str, str, str]:
    """``(registry, path, tag, digest)`` of a reference ``check_pinned_image`` accepted with
    ``digest``: ``quay.io/prometheus/prometheus:v3.5.0@sha256:...`` ->
    ``("quay.io", "prometheus/prometheus", "v3.5.0", "sha256:...")``."""
    match = PINNED_IMAGE_PATTERN.match(image)
    if match is None or not match["digest"]:
        raise ValueError(f"{image!r} is not pinned by digest")
    return match["registry"], match["path"], match["tag"], match["digest"].removeprefix("@")


def check_cidr(field_name: str, cidr: str) -> None:
    try:
        ipaddress.ip_network(cidr, strict=True)
    except (ValueError, TypeError) as error:
        raise SpecError(field_name, cidr, f"not an IPv4 or IPv6 network in CIDR form ({error})") from None


def check_fargate_size(field_name: str, cpu: int, memory_mib: int) -> None:
    memory_choices = FARGATE_SIZES.get(cpu)
    if memory_choices is None:
        raise SpecError(f"{field_name}.cpu", cpu, f"Fargate offers cpu {', '.join(str(c) for c in FARGATE_SIZES)}")
    if memory_mib not in memory_choices:
        raise SpecError(
            f"{field_name}.memory_mib",
            memory_mib,
            f"Fargate does not offer this memory with cpu {cpu} "
            f"(choose from {memory_choices[0]} to {memory_choices[-1]} "
            f"in steps of {memory_choices[1] - memory_choices[0]})",
        )


def check_hosted_zone_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^Z[A-Z0-9]{1,31}$", value):
        raise SpecError(field, value, "not a Route 53 hosted zone id (Z followed by capitals and digits)")
    return value
