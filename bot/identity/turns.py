"""Turn tokens: the gateway vouches for who wrote one message, and the action server checks it.

The gateway puts a short-lived HS256 JWT, signed with ``BOT_TURN_SECRET``, in the metadata
of every message it sends to the dialogue (key :data:`METADATA_KEY`). It binds the verified
customer (or none), the conversation, the channel and the sender on it, and the turn (the
message's client id). The custom actions believe nothing else: a message whose token is
missing, forged, expired, minted for another conversation or another turn is anonymous.

Claims (see docs/identity.md): ``aud`` (:data:`AUDIENCE`), ``iat``, ``exp`` (``iat`` +
:data:`TURN_TTL_S`), ``conv``, ``chn``, ``usr``, ``turn`` (or null), and for a verified
customer ``sub`` and ``vby`` (``token`` or ``link``). Tokens are never logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import jwt

_LOGGER = logging.getLogger(__name__)

ALGORITHM = "HS256"
AUDIENCE = "support-bot/actions"
#: Where the token travels in the message metadata.
METADATA_KEY = "turn_token"
#: Lifetime of a turn token: the turn's custom actions run within it.
TURN_TTL_S = 120
#: Clock skew tolerated between the gateway and the action server.
LEEWAY_S = 10


@dataclass(frozen=True)
class TurnIdentity:
    """Who wrote one customer message, as the gateway verified it."""

    conversation_id: str
    channel: str
    channel_user: str
    customer_id: str | None = None
    verified_by: str | None = None  # "token" or "link" when customer_id is set
    turn: str | None = None  # the message's client id (``metadata["turn"]``)


def mint_turn_token(identity: TurnIdentity, secret: str, *, ttl_s: int = TURN_TTL_S, now: float | None = None) -> str:
    """Sign ``identity`` for the action server.

    Args:
        identity: What the gateway vouches for.
        secret: ``BOT_TURN_SECRET``.
        ttl_s: Lifetime in seconds (tests mint expired tokens with a negative one).
        now: Unix time of issue; default the clock.

    Raises:
        ValueError: an empty secret, conversation, channel or channel user.
    """
    if not secret or not identity.conversation_id or not identity.channel or not identity.channel_user:
        raise ValueError("secret, conversation, channel and channel user must not be empty")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + int(ttl_s),
        "conv": identity.conversation_id,
        "chn": identity.channel,
        "usr": identity.channel_user,
        "turn": identity.turn,
    }
    if identity.customer_id:
        claims["sub"] = identity.customer_id
        claims["vby"] = identity.verified_by
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_turn_token(
    token: object, secret: str, *, conversation_id: str, turn: object, now: float | None = None
) -> TurnIdentity | None:
    """The identity a valid turn token vouches for, else ``None`` (anonymous).

    Args:
        token: The metadata's :data:`METADATA_KEY` value (anything: it came over the wire).
        secret: ``BOT_TURN_SECRET``; an empty secret accepts nothing.
        conversation_id: The conversation the action runs in (``tracker.sender_id``).
        turn: The ``turn`` of the same message's metadata (``None`` when it has none).
        now: Unix time to check expiry against (tests); default the clock.

    Returns:
        ``None`` when the token is missing, not a string, malformed, unsigned, signed with
        another key or algorithm, meant for another audience, expired, issued in the
        future, or bound to another conversation or turn. Never raises.
    """
    if not token or not isinstance(token, str) or not secret:
        return None
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "aud", "conv", "chn", "usr"], "verify_exp": False, "verify_iat": False},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        _LOGGER.info("identity.turn_rejected reason=%s", type(exc).__name__)
        return None
    problem = _problem(claims, conversation_id, turn, time.time() if now is None else now)
    if problem is not None:
        _LOGGER.info("identity.turn_rejected reason=%s", problem)
        return None
    customer = claims.get("sub")
    return TurnIdentity(
        conversation_id=claims["conv"],
        channel=claims["chn"],
        channel_user=claims["usr"],
        customer_id=customer if isinstance(customer, str) and customer else None,
        verified_by=str(claims.get("vby")) if isinstance(customer, str) and customer else None,
        turn=claims.get("turn"),
    )


def _problem(claims: dict[str, Any], conversation_id: str, turn: object, now: float) -> str | None:
    """What is wrong with verified claims for this conversation, turn and time (``None``: nothing)."""
    issued, expires = claims.get("iat"), claims.get("exp")
    if type(issued) is not int or type(expires) is not int:  # not bool, float or a string
        return "bad_times"
    if now > expires + LEEWAY_S or issued > now + LEEWAY_S or expires - issued > TURN_TTL_S:
        return "expired"
    if not all(isinstance(claims.get(k), str) and claims[k] for k in ("conv", "chn", "usr")):
        return "bad_claims"
    if claims["conv"] != conversation_id:
        return "other_conversation"
    if claims.get("turn") != turn:
        return "other_turn"
    return None
