"""The checks of the public URL, asked over the internet as a visitor would: the site, the API's
health through the edge, and plain HTTP redirected to HTTPS."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from verify.results import CheckResult, guarded

PUBLIC_URL_TIMEOUT_SECONDS = 10
"""Longest a request to the public URL may take (connecting, TLS, or waiting for an answer)."""
REDIRECTS = (301, 302, 307, 308)
USER_AGENT = "davidshaevel-platform-verify"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: urllib then raises it as an ``HTTPError``, which ``_get`` reads."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def public_opener(context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """What the public-URL checks ask with: certificates verified against ``context`` (by default
    Python's, which trusts the system's authorities and checks that the certificate names the
    host), redirects answered rather than followed."""
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context or ssl.create_default_context()), _NoRedirects()
    )


def _get(opener: urllib.request.OpenerDirector, url: str, timeout: float) -> tuple[int, str | None]:
    """The status and ``Location`` of a GET of ``url``; an error status is an answer too."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), response.headers.get("Location")
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, error.headers.get("Location")


def _answered(status: int, location: str | None) -> str:
    if 300 <= status < 400:
        return f"answered {status}, a redirect to {location or '(no Location)'}"
    return f"answered {status}"


def _public(public_url: str, scheme: str, path: str) -> str:
    """``path`` on the public URL's host, over ``scheme``."""
    return urlunsplit((scheme, urlsplit(public_url).netloc, path, "", ""))


def _over_the_internet(public_url: str, subject: str, run: Callable[[], tuple[bool, str]]) -> CheckResult:
    """A rejected certificate fails the check (what it proves); a host that cannot be reached or
    does not answer in time is an error, as for any check that cannot run."""

    def reached() -> tuple[bool, str]:
        parts = urlsplit(public_url)
        if parts.scheme != "https" or not parts.hostname:
            return False, f"the public URL {public_url!r} is not an https URL"
        try:
            return run()
        except urllib.error.URLError as error:
            if isinstance(error.reason, ssl.SSLCertVerificationError):
                return False, f"certificate rejected: {error.reason.verify_message}"
            raise

    return guarded("public URL", subject, reached)


def site_answers(
    opener: urllib.request.OpenerDirector, public_url: str, *, timeout: float = PUBLIC_URL_TIMEOUT_SECONDS
) -> CheckResult:
    """``/`` answers 2xx over HTTPS with a certificate valid for the host, without redirecting."""
    url = _public(public_url, "https", "/")

    def run() -> tuple[bool, str]:
        status, location = _get(opener, url, timeout)
        if 200 <= status < 300:
            return True, f"answered {status}, certificate valid"
        return False, _answered(status, location)

    return _over_the_internet(public_url, url, run)


def api_health_through_edge(
    opener: urllib.request.OpenerDirector,
    public_url: str,
    health_path: str,
    *,
    timeout: float = PUBLIC_URL_TIMEOUT_SECONDS,
) -> CheckResult:
    """The API service's health path answers 200 through the edge (CloudFront to the load balancer
    to a task)."""
    url = _public(public_url, "https", health_path)

    def run() -> tuple[bool, str]:
        status, location = _get(opener, url, timeout)
        return status == 200, _answered(status, location)

    return _over_the_internet(public_url, url, run)


def http_redirects_to_https(
    opener: urllib.request.OpenerDirector, public_url: str, *, timeout: float = PUBLIC_URL_TIMEOUT_SECONDS
) -> CheckResult:
    """Plain ``http://`` on the same host answers a redirect to the https URL (CloudFront's
    redirect-to-https viewer policy)."""
    url, wanted = _public(public_url, "http", "/"), _public(public_url, "https", "/")

    def normal(address: str) -> tuple[str, str, str, str]:
        parts = urlsplit(address)
        return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query

    def run() -> tuple[bool, str]:
        status, location = _get(opener, url, timeout)
        if status not in REDIRECTS:
            return False, f"{_answered(status, location)}, not a redirect to {wanted}"
        if location is None or normal(location) != normal(wanted):
            return False, f"{_answered(status, location)}, not to {wanted}"
        return True, _answered(status, location)

    return _over_the_internet(public_url, url, run)
