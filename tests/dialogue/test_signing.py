"""bot/dialogue/signing.py: the gateway's signature on its messages to Rasa's customer channel."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.dialogue.signing import (
    MAX_AGE_S,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_problem,
    signed_headers,
)

SECRET = "channel-secret-for-the-signing-tests"
BODY = b'{"sender":"c-1","message":"show my recent orders","metadata":{}}'
NOW = 1_800_000_000


def test_the_scheme_is_hmac_sha256_over_version_timestamp_nonce_and_body() -> None:
    headers = signed_headers(SECRET, BODY, now=NOW, nonce="n-1")
    expected = hmac.new(SECRET.encode(), b"v1:1800000000:n-1:" + BODY, hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: "1800000000", NONCE_HEADER: "n-1", SIGNATURE_HEADER: f"v1={expected}"}
    assert signature_problem(SECRET, BODY, headers, now=NOW) is None


def test_every_request_gets_a_new_nonce() -> None:
    assert signed_headers(SECRET, BODY, now=NOW)[NONCE_HEADER] != signed_headers(SECRET, BODY, now=NOW)[NONCE_HEADER]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h, b: ({}, b), "missing"),
        (lambda h, b: ({k: v for k, v in h.items() if k != SIGNATURE_HEADER}, b), "missing"),
        (lambda h, b: ({k: v for k, v in h.items() if k != TIMESTAMP_HEADER}, b), "missing"),
        (lambda h, b: ({k: v for k, v in h.items() if k != NONCE_HEADER}, b), "missing"),
        (lambda h, b: (h, b.replace(b"c-1", b"c-2")), "mismatch"),  # tampered body
        (lambda h, b: ({**h, NONCE_HEADER: "n-2"}, b), "mismatch"),  # another nonce
        (lambda h, b: ({**h, TIMESTAMP_HEADER: str(NOW + 1)}, b), "mismatch"),  # another time
        (lambda h, b: ({**h, SIGNATURE_HEADER: "v1=" + "0" * 64}, b), "mismatch"),  # forged
        (lambda h, b: ({**h, TIMESTAMP_HEADER: "soon"}, b), "malformed"),
        (lambda h, b: ({**h, TIMESTAMP_HEADER: "-5"}, b), "malformed"),
        (lambda h, b: ({**h, NONCE_HEADER: "x" * 65}, b), "malformed"),
    ],
    ids=[
        "no-headers",
        "no-signature",
        "no-timestamp",
        "no-nonce",
        "tampered-body",
        "other-nonce",
        "other-timestamp",
        "forged-signature",
        "timestamp-not-a-number",
        "negative-timestamp",
        "nonce-too-long",
    ],
)
def test_bad_requests_are_refused(change: object, problem: str) -> None:
    headers, body = change(signed_headers(SECRET, BODY, now=NOW, nonce="n-1"), BODY)  # type: ignore[operator]
    assert signature_problem(SECRET, body, headers, now=NOW) == problem


def test_another_secret_does_not_verify() -> None:
    headers = signed_headers("somebody-elses-secret-of-enough-bytes", BODY, now=NOW)
    assert signature_problem(SECRET, BODY, headers, now=NOW) == "mismatch"


@pytest.mark.parametrize("offset", [-MAX_AGE_S - 1, MAX_AGE_S + 1, -3600, 3600])
def test_a_request_signed_outside_the_window_is_refused(offset: int) -> None:
    """A copy replayed after the window (or signed by a clock far ahead) is stale, though its signature is right."""
    headers = signed_headers(SECRET, BODY, now=NOW + offset)
    assert signature_problem(SECRET, BODY, headers, now=NOW) == "stale"


@pytest.mark.parametrize("offset", [-MAX_AGE_S, -60, 0, 60, MAX_AGE_S])
def test_a_request_inside_the_window_is_accepted(offset: int) -> None:
    assert signature_problem(SECRET, BODY, signed_headers(SECRET, BODY, now=NOW + offset), now=NOW) is None


def test_no_secret_signs_nothing_and_accepts_nothing() -> None:
    with pytest.raises(ValueError, match="empty"):
        signed_headers("", BODY)
    assert signature_problem("", BODY, signed_headers(SECRET, BODY, now=NOW), now=NOW) == "no_secret"
