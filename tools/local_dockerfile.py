"""What the platform reads of a service's Dockerfile, without building the image: the final
stage's base image, ``ENV``, ``WORKDIR``, ``USER``, ``ENTRYPOINT`` and ``CMD``.

Only the Dockerfile is read. What the base image itself sets (its own ``ENTRYPOINT``, ``ENV``
or users) is not known here, so callers say so where it matters."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_SHELL_SYNTAX = re.compile(r"[;&|<>()$`\\\n]")


class DockerfileError(Exception):
    """The Dockerfile is missing or cannot be read; the message is one line."""


def expand(value: str, variables: Mapping[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced as Docker does (an unknown name becomes empty)."""
    return _VARIABLE.sub(lambda match: variables.get(match[1] or match[2], ""), value)


@dataclass(frozen=True, kw_only=True)
class Command:
    """An ``ENTRYPOINT`` or ``CMD``: exec form (a JSON array) or shell form (anything else)."""

    exec_form: tuple[str, ...] | None = None
    shell_form: str | None = None

    @staticmethod
    def parse(text: str) -> Command:
        # Docker takes what is not a JSON array of strings as shell form.
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and parsed and all(isinstance(part, str) for part in parsed):
            return Command(exec_form=tuple(parsed))
        return Command(shell_form=text)

    @property
    def argv(self) -> list[str]:
        """What runs: the array itself, or ``/bin/sh -c`` with the text, as Docker stores it. A
        simple command is ``exec``'d, as the images' shells (busybox, bash) do by themselves, so
        the app is the process signals reach; Debian's dash, /bin/sh here, would stay between."""
        if self.exec_form is not None:
            return list(self.exec_form)
        text = self.shell_form or ""
        return ["/bin/sh", "-c", f"exec {text}" if self.simple else text]

    @property
    def simple(self) -> bool:
        """A shell-form command that is one program and its arguments (no shell syntax)."""
        words = (self.shell_form or "").split()
        return bool(words) and not _SHELL_SYNTAX.search(self.shell_form or "") and "=" not in words[0]


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One build stage, as far as the final image inherits it."""

    base: str
    """The image it starts from, stage names resolved (``node:22-alpine``, ``scratch``)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """``ENV`` values in order, unexpanded (``$PATH`` is expanded where they are applied)."""
    workdir: str = "/"
    user: str | None = None
    """The last ``USER``, as written (``node``, ``1000:1000``); ``None``: the base image's."""
    entrypoint: Command | None = None
    cmd: Command | None = None


@dataclass(frozen=True, kw_only=True)
class Dockerfile:
    path: Path
    final: Stage

    @property
    def base(self) -> str:
        return self.final.base

    @property
    def workdir(self) -> str:
        return self.final.workdir

    @property
    def user(self) -> str | None:
        return self.final.user

    @property
    def cmd(self) -> Command | None:
        return self.final.cmd

    def command(self, override: Sequence[str] | None = None) -> list[str]:
        """What a container runs: ``ENTRYPOINT`` (exec form) followed by ``override`` (a task's
        command) or else ``CMD``. A shell-form ``ENTRYPOINT`` ignores both, as in Docker."""
        entrypoint = self.final.entrypoint
        if entrypoint is not None and entrypoint.exec_form is None:
            return entrypoint.argv
        arguments = list(override) if override is not None else (self.cmd.argv if self.cmd else [])
        return [*(entrypoint.argv if entrypoint else []), *arguments]

    def environment_over(self, environment: Mapping[str, str]) -> dict[str, str]:
        """``environment`` with the image's ``ENV`` applied on top, each value expanded."""
        combined = dict(environment)
        for key, value in self.final.environment.items():
            combined[key] = expand(value, combined)
        return combined

    def image_path(self, path: str) -> Path | None:
        """Where an absolute path of the image under its ``WORKDIR`` is in the directory."""
        workdir = PurePosixPath(self.workdir)
        target = PurePosixPath(path)
        if workdir == PurePosixPath("/") or not target.is_relative_to(workdir):
            return None
        return self.path.parent.joinpath(*target.relative_to(workdir).parts)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: continuation lines joined, comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        if whole:
            keyword, _, arguments = whole.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def _environment_pairs(arguments: str) -> list[tuple[str, str]]:
    """``ENV a=1 b="two words"``, or the older ``ENV name value with spaces``."""
    first = arguments.split(maxsplit=1)[0] if arguments else ""
    if "=" not in first:
        name, _, value = arguments.partition(" ")
        return [(name, value.strip())]
    return [(key, value) for key, _, value in (pair.partition("=") for pair in shlex.split(arguments))]


def _from(arguments: str, stages: Mapping[str, Stage], args: Mapping[str, str]) -> tuple[Stage, str | None]:
    words = [word for word in arguments.split() if not word.startswith("--")]
    image = expand(words[0], args) if words else "scratch"
    name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
    inherited = stages.get(image.lower())
    return (inherited if inherited is not None else Stage(base=image)), name


def read_dockerfile(directory: Path) -> Dockerfile:
    """The directory's ``Dockerfile``, its final stage resolved through earlier stages."""
    path = directory / "Dockerfile"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DockerfileError(f"no Dockerfile in {directory}") from None
    except OSError as error:
        raise DockerfileError(f"cannot read {path}: {error.strerror or error}") from None
    stages: dict[str, Stage] = {}
    args: dict[str, str] = {}
    stage: Stage | None = None
    name: str | None = None
    for keyword, arguments in instructions(text):
        if keyword == "FROM":
            stage, name = _from(arguments, stages, args)
            if name:
                stages[name] = stage
            continue
        if keyword == "ARG" and stage is None:
            arg, _, default = arguments.partition("=")
            args[arg.strip()] = default.strip().strip('"')
            continue
        if stage is None:
            continue
        stage = _apply(stage, keyword, arguments)
        if name:
            # A later ``FROM <name>`` starts from this stage as it ends.
            stages[name] = stage
    if stage is None:
        raise DockerfileError(f"{path} has no FROM instruction")
    return Dockerfile(path=path, final=stage)


def _apply(stage: Stage, keyword: str, arguments: str) -> Stage:
    if keyword == "ENV":
        return replace(stage, environment={**stage.environment, **dict(_environment_pairs(arguments))})
    if keyword == "WORKDIR":
        workdir = PurePosixPath(stage.workdir) / expand(arguments, stage.environment)
        return replace(stage, workdir=str(workdir))
    if keyword == "USER":
        return replace(stage, user=expand(arguments, stage.environment))
    if keyword == "ENTRYPOINT":
        return replace(stage, entrypoint=Command.parse(arguments))
    if keyword == "CMD":
        return replace(stage, cmd=Command.parse(arguments))
    return stage
