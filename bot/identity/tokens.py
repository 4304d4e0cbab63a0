"""Signed customer tokens: the host site vouches for a logged-in customer with an HS256 JWT.

The site signs ``{"sub": <customer id>, "exp": <unix time>}`` with ``BOT_IDENTITY_SECRET``
(see docs/identity.md) and passes the token to the widget or the direct API. Only HS256 is
accepted: ``alg: none``, other HMAC sizes and public-key algorithms are refused, so a
token can neither be forged unsigned nor confused with another key type. Tokens are
never logged.
"""

from __future__ import annotations

import logging
import time

import jwt

_LOGGER = logging.getLogger(__name__)

ALGORITHM = "HS256"
DEFAULT_TTL_S = 3600
DEFAULT_LEEWAY_S = 30


def verify_customer_token(
    token: str | None, secret: str, *, now: float | None = None, leeway_s: int = DEFAULT_LEEWAY_S
) -> str | None:
    """Return the customer id a valid token vouches for, else None.

    Args:
        token: The compact JWT the site passed, or None when there is none.
        secret: ``BOT_IDENTITY_SECRET``; an empty secret accepts nothing.
        now: Unix time to check expiry against (tests); default the clock.
        leeway_s: Clock skew tolerated on ``exp`` (and ``nbf``, ``iat``).

    Returns:
        The ``sub`` claim for a well-formed HS256 token with a valid signature, an
        ``exp`` in the future and a non-empty string ``sub``; None otherwise (missing,
        malformed, forged, expired, unsigned or another algorithm). Never raises.
    """
    if not token or not isinstance(token, str) or not secret:
        return None
    checks_time = now is None
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=leeway_s,
            options={
                "require": ["exp", "sub"],
                "verify_exp": checks_time,
                "verify_nbf": checks_time,
                "verify_iat": checks_time,
            },
        )
    except jwt.PyJWTError as exc:
        _LOGGER.info("identity.token_rejected reason=%s", type(exc).__name__)
        return None
    except (ValueError, TypeError) as exc:  # defensive: odd payloads that slip past PyJWT's own checks
        _LOGGER.info("identity.token_rejected reason=%s", type(exc).__name__)
        return None
    if now is not None and not _times_ok(claims, now, leeway_s):
        _LOGGER.info("identity.token_rejected reason=ExpiredSignatureError")
        return None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        _LOGGER.info("identity.token_rejected reason=bad_subject")
        return None
    return subject


def _times_ok(claims: dict[str, object], now: float, leeway_s: int) -> bool:
    """Check ``exp`` and ``nbf`` against an injected clock."""
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or now > exp + leeway_s:
        return False
    nbf = claims.get("nbf")
    if nbf is None:
        return True
    return not isinstance(nbf, bool) and isinstance(nbf, (int, float)) and now + leeway_s >= nbf


def mint_customer_token(customer_id: str, secret: str, ttl_s: int = DEFAULT_TTL_S, now: float | None = None) -> str:
    """Sign a customer token as a host site would (docs, tests and the dev demo).

    Args:
        customer_id: The ``sub`` claim.
        secret: ``BOT_IDENTITY_SECRET``.
        ttl_s: Lifetime in seconds (``exp = now + ttl_s``).
        now: Unix time of issue; default the clock.

    Raises:
        ValueError: empty customer id or secret.
    """
    if not customer_id or not secret:
        raise ValueError("customer_id and secret must not be empty")
    issued = int(time.time() if now is None else now)
    return jwt.encode({"sub": customer_id, "iat": issued, "exp": issued + int(ttl_s)}, secret, algorithm=ALGORITHM)
