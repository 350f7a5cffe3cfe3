"""A profile that misspells or leaves out a spec field ends in one line naming the field, the line
of the profile that wrote it and, for a near miss, the field meant; not in a traceback."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from platform_spec import PlatformSpec, ServiceSpec, SpecError, spec_from_context
from platform_spec.profiles import PROFILES
from platform_spec.spelling import built

HERE = Path(__file__).resolve().relative_to(Path(__file__).resolve().parents[2])


def _profile_with(change: Callable[[ServiceSpec], ServiceSpec]) -> Callable[[], PlatformSpec]:
    def profile() -> PlatformSpec:
        spec = PROFILES["dev"]()
        first, *rest = spec.services
        return dataclasses.replace(spec, services=(change(first), *rest))

    return profile


def _fields(service: ServiceSpec) -> dict[str, Any]:
    return {f.name: getattr(service, f.name) for f in dataclasses.fields(service) if f.init}


def _refusal(monkeypatch: pytest.MonkeyPatch, profile: Callable[[], PlatformSpec]) -> str:
    monkeypatch.setitem(PROFILES, "adopted", profile)
    with pytest.raises(SpecError) as refused:
        spec_from_context({"env": "adopted"})
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_a_misspelt_field_names_the_field_meant_and_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def misspell(service: ServiceSpec) -> ServiceSpec:
        fields = _fields(service)
        port = fields.pop("container_port")
        # As profiles.py writes services: through a partial of ServiceSpec.
        sized = partial(ServiceSpec, **fields)
        return sized(contaner_port=port)  # type: ignore[call-arg]  # the line the error names

    line = misspell.__code__.co_firstlineno + 5
    assert _refusal(monkeypatch, _profile_with(misspell)) == (
        f"ServiceSpec.contaner_port: ServiceSpec has no such field at {HERE}:{line}; "
        "did you mean container_port? (got 'contaner_port')"
    )


def test_a_field_nothing_like_any_lists_the_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refusal(monkeypatch, _profile_with(lambda s: ServiceSpec(**_fields(s), zzyzx="blue")))  # type: ignore[call-arg]
    assert message.startswith("ServiceSpec.zzyzx: ServiceSpec has no such field at ")
    fields = sorted(f.name for f in dataclasses.fields(ServiceSpec) if f.init)
    assert message.endswith(f"; its fields are {', '.join(fields)} (got 'zzyzx')")


def test_a_missing_field_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def forget(service: ServiceSpec) -> ServiceSpec:
        fields = _fields(service)
        del fields["name"]
        return ServiceSpec(**fields)

    line = forget.__code__.co_firstlineno + 3
    assert _refusal(monkeypatch, _profile_with(forget)) == (
        f"ServiceSpec: name must be given at {HERE}:{line} (the field has no default) (got None)"
    )


def test_other_type_errors_keep_their_traceback() -> None:
    """Only a spec dataclass's own fields are translated: a bug elsewhere stays a bug."""

    class NotOfTheSpec:
        def __init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="unexpected keyword argument 'x'"):
        built(lambda: NotOfTheSpec(x=1))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unsupported operand"):
        built(lambda: 1 + "1")  # type: ignore[operator]
