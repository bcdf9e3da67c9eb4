"""Verification of Cal.com's `X-Cal-Signature-256` (calcom-contract.md §8.3), as one small class.

The header is the lowercase hex HMAC-SHA256 of the exact body bytes with the shared secret; no
prefix, no timestamp. Verification uses the raw bytes (re-serialising would change them) and a
constant-time comparison on bytes; every malformed header is an invalid signature, never a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from core.errors import Unauthenticated

NO_SECRET = "no-secret-provided"
_HEX_SHA256 = re.compile(rb"[0-9a-f]{64}")


class InvalidSignature(Unauthenticated):
    code = "INVALID_SIGNATURE"
    default_message = "The webhook signature is missing or does not match the body."


class CalcomSignatureVerifier:
    """Checks one body against one header with the configured secret."""

    def __init__(self, secret: str | None) -> None:
        self._secret = secret.encode() if secret else None

    def sign(self, body: bytes) -> str:
        """The header value Cal.com would send for `body` (for tests and the simulator)."""
        if self._secret is None:
            return NO_SECRET
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def verify(self, body: bytes, header: str | bytes | None) -> None:
        """Raises:
        InvalidSignature: no secret configured, missing, malformed or wrong header.
        """
        if self._secret is None or header is None:
            raise InvalidSignature()
        given = header.encode("latin-1", "replace") if isinstance(header, str) else header
        given = given.strip()
        if not _HEX_SHA256.fullmatch(given):  # includes the literal "no-secret-provided"
            raise InvalidSignature()
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(expected, given):
            raise InvalidSignature()
