"""What a service is given besides its image: plain settings, and secrets read as its task starts.

Settings are environment variables written into the task definition, so anyone who can read
the template can read them: nothing secret goes there. Secrets are named here only by where
they live (a Secrets Manager secret or an SSM Parameter Store parameter, created by you, outside
the stacks); ECS reads each one with the task's execution role as the container starts and
hands it over as an environment variable, so its value never appears in a template.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from platform_spec.errors import SpecError

ENVIRONMENT_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
# Secrets Manager's name rule ("CreateSecret", Name): 1-512 of these characters. A name that ends
# in '-' and six characters reads like the suffix Secrets Manager appends to every ARN, and a
# lookup by partial ARN then fails ("Troubleshoot AWS Secrets Manager": ARN_secretnamehyphen).
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_SUFFIX_LOOKALIKE = re.compile(r"-[A-Za-z0-9]{6}$")
_SECRET_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):secret:"
    r"(?P<name>[A-Za-z0-9/_+=.@-]{1,512})-[A-Za-z0-9]{6}$"
)
# SSM's parameter name rule ("PutParameter", Name): letters, digits, '.', '-', '_' and '/' hierarchy
# levels, at most 2048 characters; a name that starts with aws or ssm is reserved.
_PARAMETER_NAME = re.compile(r"^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_KEY_ARN = re.compile(r"^arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]{1,128}$")
_JSON_KEY = re.compile(r"^[^:\s]{1,256}$")

# Variables the platform sets itself, or that ECS and the AWS SDKs own.
PLATFORM_VARIABLES = frozenset(
    {
        "PORT",
        "HEALTH_CHECK_PATH",
        "METRICS_PATH",
        "HOME",
        "API_URL",
        "WEB_URL",
        "INTERNAL_PATHS",
        *(f"DB_{suffix}" for suffix in ("HOST", "PORT", "NAME", "SCHEMA", "USER", "IAM_AUTH", "SSLMODE")),
    }
)
RESERVED_PREFIXES = ("AWS_", "ECS_")


def _check_key_arn(field_name: str, key_arn: str | None) -> None:
    if key_arn is not None and (not isinstance(key_arn, str) or not _KEY_ARN.match(key_arn)):
        raise SpecError(field_name, key_arn, "must be the ARN of a KMS key (arn:aws:kms:<region>:<account>:key/<id>)")


@dataclass(frozen=True, kw_only=True)
class SecretsManagerSecret:
    """A Secrets Manager secret in the platform's account and region, by name or complete ARN."""

    name: str
    """The secret's name (``acme/dev/stripe``), or its complete ARN, with the six characters
    Secrets Manager appends, where the name itself ends in '-' and six characters."""
    json_key: str | None = None
    """A key of the secret's JSON value to hand over instead of the whole value."""
    key_arn: str | None = None
    """The customer managed KMS key that encrypts it; ``None``: Secrets Manager's own key
    (``aws/secretsmanager``), which needs no grant."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise SpecError("secret.name", self.name, "must be a Secrets Manager secret's name or ARN")
        arn = _SECRET_ARN.match(self.name) if self.name.startswith("arn:") else None
        if self.name.startswith("arn:") and arn is None:
            raise SpecError(
                "secret.name",
                self.name,
                "not a complete Secrets Manager secret ARN "
                "(arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf)",
            )
        if arn is None and not _SECRET_NAME.match(self.name):
            raise SpecError("secret.name", self.name, "a secret name is 1-512 letters, digits or /_+=.@-")
        if arn is None and _SUFFIX_LOOKALIKE.search(self.name):
            raise SpecError(
                "secret.name",
                self.name,
                "a name ending in '-' and six characters cannot be found by name (Secrets Manager reads them as "
                "its own suffix): give the secret's complete ARN instead",
            )
        if self.json_key is not None and (not isinstance(self.json_key, str) or not _JSON_KEY.match(self.json_key)):
            raise SpecError("secret.json_key", self.json_key, "a JSON key of up to 256 characters, no ':' or spaces")
        _check_key_arn("secret.key_arn", self.key_arn)

    @property
    def complete_arn(self) -> str | None:
        """The name as given, where it is a complete ARN."""
        return self.name if self.name.startswith("arn:") else None

    @property
    def secret_name(self) -> str:
        match = _SECRET_ARN.match(self.name)
        return match["name"] if match else self.name

    def check_placement(self, field_name: str, *, account: str | None, region: str) -> None:
        """A complete ARN names its region and account: they must be the platform's."""
        match = _SECRET_ARN.match(self.name)
        if match is None:
            return
        if match["region"] != region:
            raise SpecError(field_name, self.name, f"the secret is in {match['region']}, the platform in {region}")
        if account is not None and match["account"] != account:
            raise SpecError(field_name, self.name, f"the secret is in account {match['account']}, not {account}")


@dataclass(frozen=True, kw_only=True)
class ParameterStoreSecret:
    """An SSM Parameter Store ``SecureString`` parameter in the platform's account and region."""

    name: str
    """The parameter's name (``/acme/dev/session-secret``)."""
    key_arn: str | None = None
    """The customer managed KMS key that encrypts it; ``None``: SSM's own key (``aws/ssm``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or len(self.name) > 2048 or not _PARAMETER_NAME.match(self.name):
            raise SpecError(
                "secret.name", self.name, "an SSM parameter name is letters, digits, '.', '-', '_' and '/' levels"
            )
        if self.name.lstrip("/").lower().startswith(("aws", "ssm")):
            raise SpecError("secret.name", self.name, "names starting with aws or ssm are reserved by SSM")
        _check_key_arn("secret.key_arn", self.key_arn)

    @property
    def path(self) -> str:
        """The name as its ARN spells it: without a leading '/'."""
        return self.name.lstrip("/")


Secret = SecretsManagerSecret | ParameterStoreSecret


_V = TypeVar("_V")


class FrozenMapping(Mapping[str, _V]):
    """A read-only mapping that can be hashed, so a spec holding one stays a value like the rest."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, _V]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> _V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr(self._items)


def check_variable_name(field_name: str, name: object) -> str:
    """An environment variable the platform does not set itself and ECS and AWS do not own."""
    if not isinstance(name, str) or not ENVIRONMENT_NAME_PATTERN.match(name):
        raise SpecError(field_name, name, "a variable name is letters, digits and '_', not starting with a digit")
    if name in PLATFORM_VARIABLES:
        raise SpecError(field_name, name, "the platform sets this variable itself (docs/adopting.md, settings)")
    if name.startswith(RESERVED_PREFIXES):
        raise SpecError(field_name, name, "variables starting with AWS_ or ECS_ belong to AWS and ECS")
    return name


def frozen_settings(field_name: str, settings: object) -> Mapping[str, str]:
    """``settings`` checked and frozen: names as ``check_variable_name``, values plain strings."""
    if not isinstance(settings, Mapping):
        raise SpecError(field_name, settings, "must be a mapping of variable names to strings")
    for name, value in settings.items():
        check_variable_name(f"{field_name}[{name}]", name)
        if not isinstance(value, str):
            raise SpecError(f"{field_name}[{name}]", value, "a setting's value must be a string (quote numbers)")
    return FrozenMapping(settings)


def frozen_secrets(field_name: str, secrets: object) -> Mapping[str, Secret]:
    """``secrets`` checked and frozen: names as ``check_variable_name``, each value where it lives."""
    if not isinstance(secrets, Mapping):
        raise SpecError(field_name, secrets, "must be a mapping of variable names to secrets")
    for name, source in secrets.items():
        check_variable_name(f"{field_name}[{name}]", name)
        if not isinstance(source, SecretsManagerSecret | ParameterStoreSecret):
            raise SpecError(
                f"{field_name}[{name}]", source, "must be a SecretsManagerSecret(...) or ParameterStoreSecret(...)"
            )
    return FrozenMapping(secrets)
