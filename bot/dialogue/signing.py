"""How the gateway signs its requests to the Rasa server's customer channel (pure; both sides use it).

Rasa's ``--auth-token`` does not cover input-channel webhooks, so the channel checks an
HMAC instead (``rasa_components/gateway_channel.py``). Each request carries three headers:

* ``X-Bot-Timestamp``: Unix seconds when the gateway signed it;
* ``X-Bot-Nonce``: a random value, new for every request (the channel refuses one seen before);
* ``X-Bot-Signature``: ``v1=`` and the hex HMAC-SHA256, keyed with ``BOT_RASA_CHANNEL_SECRET``,
  of ``v1:<timestamp>:<nonce>:`` followed by the raw request body.

A request is refused when a header is missing or malformed, the signature does not match
(constant-time compare), or the timestamp is more than :data:`MAX_AGE_S` seconds away from
the receiver's clock. An empty secret signs nothing and accepts nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Bot-Timestamp"
NONCE_HEADER = "X-Bot-Nonce"
SIGNATURE_HEADER = "X-Bot-Signature"
VERSION = "v1"
#: How far a request's timestamp may be from the receiver's clock (either way), in seconds.
MAX_AGE_S = 300
_MAX_NONCE_CHARS = 64


def _signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    signed = f"{VERSION}:{timestamp}:{nonce}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers that vouch for ``body``, signed with the channel secret.

    Args:
        secret: ``BOT_RASA_CHANNEL_SECRET``.
        body: The exact bytes that will be sent.
        now: Unix time of signing (tests); default the clock.
        nonce: The request's nonce (tests); default a fresh random one.

    Raises:
        ValueError: the secret is empty.
    """
    if not secret:
        raise ValueError("the channel secret must not be empty")
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16) if nonce is None else nonce
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: _signature(secret, timestamp, nonce, body),
    }


def signature_problem(
    secret: str, body: bytes, headers: Mapping[str, str], *, now: float | None = None, max_age_s: int = MAX_AGE_S
) -> str | None:
    """Why a request does not carry a valid signature, or ``None`` when it does.

    Args:
        secret: ``BOT_RASA_CHANNEL_SECRET``; an empty secret accepts nothing.
        body: The raw request body, exactly as received.
        headers: The request's headers (a case-insensitive mapping on both servers).
        now: Unix time to compare the timestamp with (tests); default the clock.
        max_age_s: The largest accepted distance between the timestamp and ``now``.

    Returns:
        ``None`` for a valid request, else a short reason for the log line (``missing``,
        ``malformed``, ``stale``, ``mismatch``, ``no_secret``). Never raises.
    """
    if not secret:
        return "no_secret"
    timestamp, nonce, signature = (headers.get(h) for h in (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER))
    if not timestamp or not nonce or not signature:
        return "missing"
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12 or len(nonce) > _MAX_NONCE_CHARS:
        return "malformed"
    clock = time.time() if now is None else now
    if abs(clock - int(timestamp)) > max_age_s:
        return "stale"
    if not hmac.compare_digest(signature.encode(), _signature(secret, timestamp, nonce, body).encode()):
        return "mismatch"
    return None
