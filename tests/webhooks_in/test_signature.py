"""X-Cal-Signature-256 verification (R10, R11, property 47's signature half)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhooks_in.signature import NO_SECRET, CalcomSignatureVerifier, InvalidSignature

SECRET = "shared-secret"


def cal_signature(body: bytes, secret: str = SECRET) -> str:
    """What Cal.com sends, computed independently of the code under test."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TestCalcomSignature:
    @given(body=st.binary(max_size=2048))
    def test_property_47_a_valid_signature_of_the_raw_body_is_accepted(self, body: bytes) -> None:
        CalcomSignatureVerifier(SECRET).verify(body, cal_signature(body))

    @given(body=st.binary(min_size=1, max_size=512), index=st.integers(0, 511), flip=st.integers(1, 255))
    def test_property_47_any_tampered_byte_is_rejected(self, body: bytes, index: int, flip: int) -> None:
        tampered = bytearray(body)
        tampered[index % len(body)] ^= flip
        with pytest.raises(InvalidSignature):
            CalcomSignatureVerifier(SECRET).verify(bytes(tampered), cal_signature(body))

    @given(header=st.one_of(st.text(max_size=80), st.binary(max_size=80)))
    def test_any_malformed_header_is_rejected_never_crashes(self, header: str | bytes) -> None:
        body = b'{"triggerEvent":"PING"}'
        if (header.decode("latin-1") if isinstance(header, bytes) else header).strip() == cal_signature(body):
            return
        with pytest.raises(InvalidSignature):
            CalcomSignatureVerifier(SECRET).verify(body, header)

    def test_rejects_missing_header_no_secret_literal_wrong_secret_and_uppercase(self) -> None:
        body = b"{}"
        verifier = CalcomSignatureVerifier(SECRET)
        for header in (None, NO_SECRET, cal_signature(body, "other"), "sha256=" + cal_signature(body)):
            with pytest.raises(InvalidSignature):
                verifier.verify(body, header)
        with pytest.raises(InvalidSignature):
            verifier.verify(body, cal_signature(body).upper())

    def test_without_a_configured_secret_nothing_verifies(self) -> None:
        with pytest.raises(InvalidSignature):
            CalcomSignatureVerifier(None).verify(b"{}", cal_signature(b"{}"))


def test_known_answer() -> None:
    """A vector computed outside Python: `printf '%s' BODY | openssl dgst -sha256 -hmac SECRET`."""
    body = b'{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-10T15:59:58.123Z","payload":{"uid":"abc"}}'
    expected = "ffa504c661cc04c601e60390938790c9cf91e41108c0e08e7e5f4b479a6cbf1f"
    verifier = CalcomSignatureVerifier("thotis-known-answer-secret")
    assert verifier.sign(body) == expected
    verifier.verify(body, expected)
