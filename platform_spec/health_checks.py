"""The command a service's container health check runs, from what its image has.

ECS runs it inside the container (``CMD`` form: no shell) and counts exit 0 as healthy. A
tool the image lacks fails every check, and the task is replaced over and over: the original
platform's ``wget: not found``. So the spec says what the image has (``ServiceSpec.health_check``)
and the command follows from it. Every tool asks the loopback address, 127.0.0.1, not
``localhost``, which may resolve to ::1 where the app does not listen.
"""

from __future__ import annotations

from platform_spec.services import ServiceSpec

ANSWER_SECONDS = 4
"""How long a tool waits for the answer: under the check's 5-second timeout, so a silent
service fails the check rather than outliving it."""


def node_probe(port: int, path: str) -> tuple[str, ...]:
    """Node's own ``http`` module: node images have neither curl nor (reliably) wget. Healthy on
    any 2xx or 3xx answer."""
    script = (
        f"const r=require('http').get('http://127.0.0.1:{port}{path}',"
        "s=>process.exit(s.statusCode>=200&&s.statusCode<400?0:1));"
        f"r.on('error',()=>process.exit(1));r.setTimeout({ANSWER_SECONDS * 1000},()=>process.exit(1));"
    )
    return ("node", "-e", script)


def wget_probe(port: int, path: str) -> tuple[str, ...]:
    """busybox's and GNU wget: exit 0 on a 2xx answer (redirects followed), else non-zero; ECS
    stops it at the check's timeout."""
    return ("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}")


def curl_probe(port: int, path: str) -> tuple[str, ...]:
    """curl with ``--fail``: exit 22 on an answer of 400 or more, 28 when it times out."""
    return ("curl", "-fsS", "-o", "/dev/null", "-m", str(ANSWER_SECONDS), f"http://127.0.0.1:{port}{path}")


PROBES = {"node": node_probe, "wget": wget_probe, "curl": curl_probe}


def health_check_command(service: ServiceSpec) -> tuple[str, ...] | None:
    """What ECS runs in the container, or ``None`` where nothing can be asked: a tool needs the
    service's port and health path; a command of the image's own runs as it is."""
    check = service.health_check
    if isinstance(check, tuple):
        return check
    if service.container_port is None or service.health_check_path is None:
        return None
    return PROBES[check](service.container_port, service.health_check_path)
