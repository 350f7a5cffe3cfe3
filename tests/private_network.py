"""A network namespace of a test's own, for what must listen on the spec's own, fixed ports (the
reference services on their container ports, as in their tasks): two runs of the suite on one
machine, or a developer's server on one of those ports, then never meet.

The namespace has no name (nothing in /run/netns) and no interface but its loopback: nothing
is added to the machine's own network. ``inside`` moves the calling thread into it (Linux
keeps a network namespace per thread), so the sockets the test opens and the processes it
starts meanwhile are there; ``forward`` makes an address of the machine's loopback (the
session's PostgreSQL) answer at the same address inside, byte for byte (TLS passes through).
Without root, or without ``unshare``, there is no namespace: ``inside`` changes nothing, and
the ports are the machine's, as before."""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

CLONE_NEWNET = 0x40000000
"""setns(2)'s flag for a network namespace (<sched.h>)."""
_THREAD_NAMESPACE = "/proc/thread-self/ns/net"


@functools.cache
def unavailable() -> str | None:
    """Why a network namespace cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"this machine cannot create network namespaces: {probe.stderr.strip()[:200]}"
    return None


def _setns(fd: int) -> None:
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


class PrivateNetwork:
    """An unnamed network namespace with its loopback up, until ``close``."""

    def __init__(self) -> None:
        self.reason = unavailable()
        self._namespace: int | None = None
        self._machine: int | None = None
        self._listeners: list[socket.socket] = []
        if self.reason is not None:
            return
        # A process made in a new namespace brings its loopback up; the namespace outlives it
        # as long as a descriptor of it is open.
        holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep 60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            if holder.stdout.readline().strip() != "up":
                raise OSError(f"the namespace's loopback did not come up: {holder.communicate()[1].strip()[:200]}")
            self._namespace = os.open(f"/proc/{holder.pid}/ns/net", os.O_RDONLY)
        finally:
            holder.kill()
            holder.communicate()
        self._machine = os.open(_THREAD_NAMESPACE, os.O_RDONLY)

    @property
    def isolated(self) -> bool:
        return self._namespace is not None

    @contextmanager
    def inside(self) -> Iterator[None]:
        """The calling thread in the namespace for the duration (and what it starts meanwhile)."""
        if self._namespace is None:
            yield
            return
        own = os.open(_THREAD_NAMESPACE, os.O_RDONLY)
        try:
            _setns(self._namespace)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)

    def forward(self, host: str, port: int) -> None:
        """Connections to ``host``:``port`` inside reach ``host``:``port`` of the machine."""
        if self._namespace is None:
            return
        with self.inside():
            listener = socket.create_server((host, port))
        self._listeners.append(listener)
        threading.Thread(target=self._accept, args=(listener, (host, port)), daemon=True).start()

    def _accept(self, listener: socket.socket, upstream: tuple[str, int]) -> None:
        assert self._machine is not None
        _setns(self._machine)  # whichever thread started it: the upstream is the machine's
        while True:
            try:
                inner, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                outer = socket.create_connection(upstream, timeout=5)
            except OSError:
                inner.close()
                continue
            outer.settimeout(None)
            for source, target in ((inner, outer), (outer, inner)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()

    def close(self) -> None:
        for listener in self._listeners:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes its accept, which close alone does not
            listener.close()
        self._listeners.clear()
        for fd in (self._namespace, self._machine):
            if fd is not None:
                os.close(fd)
        self._namespace = self._machine = None


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copies until either side ends, then ends both."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        source.close()


@contextmanager
def private_network() -> Iterator[PrivateNetwork]:
    network = PrivateNetwork()
    try:
        yield network
    finally:
        network.close()
