"""How the command-line tools end on bad input or a failed AWS call: one line, never a traceback."""

from __future__ import annotations

import sys

NO_CREDENTIALS = "no AWS credentials found (set AWS_PROFILE, or run inside a role)"


def fail(message: str, *, code: int = 2) -> int:
    """Print ``error: <message>`` to stderr and return the exit code (2: the run could not start)."""
    print(f"error: {message}", file=sys.stderr)
    return code


def aws_failure(error: Exception) -> int:
    """End on an error raised by the SDK or an AWS API, naming its kind."""
    from botocore.exceptions import NoCredentialsError  # noqa: PLC0415 (loaded only when AWS was called)

    if isinstance(error, NoCredentialsError):
        return fail(NO_CREDENTIALS)
    return fail(f"{type(error).__name__}: {error}")
