"""A service's run with its directory as the read-only root of its image: everything it writes
outside its writable paths is recorded, and named afterwards.

As root, the service runs in a mount namespace of its own (``unshare --mount --propagation
private``, as the discovery test runs Prometheus): its directory is an overlay whose upper layer
catches every write (so the service keeps running and the check can name each file, where a
read-only mount would only make it fail), each writable path is an empty directory of its own
(as Fargate's task volumes are), and ``/tmp`` is private. Nothing it does is seen outside.
Without root, the directory is compared before and after the run instead: writes elsewhere
are not seen, and the check says so."""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TMP = Path("/tmp")
Snapshot = dict[str, tuple[int, int]]


@functools.cache
def namespace_unavailable() -> str | None:
    """Why a mount namespace with an overlay cannot be made here, or None."""
    if os.geteuid() != 0:
        return "mount namespaces need root"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare or mount (util-linux) is missing"
    with tempfile.TemporaryDirectory(prefix="overlay-probe-") as probe:
        for name in ("lower", "upper", "work"):
            (Path(probe) / name).mkdir()
        options = f"lowerdir={probe}/lower,upperdir={probe}/upper,workdir={probe}/work"
        result = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "mount", "-t", "overlay", "overlay", "-o", options,
             f"{probe}/lower"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        return f"this machine cannot mount an overlay in a namespace: {result.stderr.strip()[:200]}"
    return None


@dataclass(frozen=True, kw_only=True)
class Sandbox:
    """Where one run of a service may write."""

    directory: Path
    """The service's directory: the image's ``WORKDIR``, read-only."""
    work: Path
    """The sandbox's own scratch directory (upper layer, volumes, private ``/tmp``)."""
    writable: tuple[str, ...]
    """Paths under ``directory`` (relative) the service may write: its task volumes."""
    visible: tuple[Path, ...] = ()
    """Files under ``/tmp`` the service must still see (the database's CA)."""

    @property
    def isolated(self) -> bool:
        return namespace_unavailable() is None and not any(c in str(self.directory) for c in ",:")

    def command(self, command: Sequence[str]) -> list[str]:
        """``command`` as run in the sandbox (as it is, where the sandbox cannot be made)."""
        if not self.isolated:
            return list(command)
        upper, layer_work, private_tmp = (self.work / name for name in ("upper", "layer-work", "tmp"))
        for path in (upper, layer_work, private_tmp):
            path.mkdir(parents=True, exist_ok=True)
        target = _under(private_tmp, self.directory)
        q = shlex.quote
        steps = [
            "set -e",
            f"mkdir -p {q(str(target))}",
            f"mount -t overlay overlay -o lowerdir={q(str(self.directory))},upperdir={q(str(upper))},"
            f"workdir={q(str(layer_work))} {q(str(target))}",
        ]
        for index, relative in enumerate(self.writable):
            volume = self.work / "volumes" / str(index)
            volume.mkdir(parents=True, exist_ok=True)
            steps += [
                f"mkdir -p {q(str(target / relative))}",
                f"mount --bind {q(str(volume))} {q(str(target / relative))}",
            ]
        for path in self.visible:
            if path.is_relative_to(TMP):
                inside = private_tmp / path.relative_to(TMP)
                steps += [f"mkdir -p {q(str(inside.parent))}", f"touch {q(str(inside))}"]
                steps.append(f"mount --bind {q(str(path))} {q(str(inside))}")
        # Last, /tmp itself: everything above that lives under it is carried along (--rbind).
        steps += [f"mount --rbind {q(str(private_tmp))} /tmp", f"cd {q(str(self.directory))}", 'exec "$@"']
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "; ".join(steps), "sandbox", *command]

    def written(self, before: Snapshot | None) -> list[str]:
        """What the run wrote outside its writable paths, relative to the directory
        (``name (removed)`` for a deletion). ``before``: the snapshot taken without isolation."""
        if not self.isolated:
            after = snapshot(self.directory, skip=self.writable)
            changed = [name for name in after if (before or {}).get(name) != after[name]]
            return sorted(changed + [f"{name} (removed)" for name in before or {} if name not in after])
        upper = self.work / "upper"
        found = []
        for path in sorted(upper.rglob("*")):
            relative = path.relative_to(upper).as_posix()
            info = path.lstat()
            if stat.S_ISDIR(info.st_mode) and any(_within(w, relative) for w in self.writable):
                continue  # a mount point made for a writable path, or its parent
            if any(_within(relative, w) for w in self.writable):
                continue
            removed = stat.S_ISCHR(info.st_mode) and info.st_rdev == 0  # the overlay's mark of a deletion
            found.append(f"{relative} (removed)" if removed else relative)
        return found


def _under(private_tmp: Path, path: Path) -> Path:
    """Where ``path`` is mounted so that it stays at its own name once ``/tmp`` is private."""
    return private_tmp / path.relative_to(TMP) if path.is_relative_to(TMP) else path


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def snapshot(directory: Path, *, skip: Sequence[str] = ()) -> Snapshot:
    """Each file under ``directory`` (links not followed) with its modification time and size."""
    found: Snapshot = {}
    for root, folders, files in os.walk(directory):
        base = Path(root)
        folders[:] = [
            f for f in folders if not any(_within((base / f).relative_to(directory).as_posix(), s) for s in skip)
        ]
        for name in files:
            info = (base / name).lstat()
            found[(base / name).relative_to(directory).as_posix()] = (info.st_mtime_ns, info.st_size)
    return found
