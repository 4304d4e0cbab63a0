"""bot/identity/turns.py: the turn token the gateway vouches for one message with."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from bot.identity.turns import AUDIENCE, LEEWAY_S, TURN_TTL_S, TurnIdentity, mint_turn_token, verify_turn_token

SECRET = "turn-secret-for-the-unit-tests-32b"
NOW = 1_800_000_000
ANNA = TurnIdentity("conv-1", "web", "visitor-1", "C1001", "token", turn="t-1")
ANONYMOUS = TurnIdentity("conv-1", "telegram", "4242", turn=None)


def verify(token: object, *, conversation: str = "conv-1", turn: object = "t-1", now: float = NOW) -> Any:
    return verify_turn_token(token, SECRET, conversation_id=conversation, turn=turn, now=now)


def test_a_minted_token_verifies_to_the_same_identity() -> None:
    assert verify(mint_turn_token(ANNA, SECRET, now=NOW)) == ANNA
    assert verify(mint_turn_token(ANONYMOUS, SECRET, now=NOW), turn=None) == ANONYMOUS


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(
        token, SECRET, algorithms=["HS256"], audience=AUDIENCE, options={"verify_exp": False, "verify_iat": False}
    )


def test_the_claims() -> None:
    claims = claims_of(mint_turn_token(ANNA, SECRET, now=NOW))
    assert claims == {
        "aud": AUDIENCE,
        "iat": NOW,
        "exp": NOW + TURN_TTL_S,
        "conv": "conv-1",
        "chn": "web",
        "usr": "visitor-1",
        "turn": "t-1",
        "sub": "C1001",
        "vby": "token",
    }
    assert "sub" not in claims_of(mint_turn_token(ANONYMOUS, SECRET, now=NOW))


def _unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."


def _claims(**changes: Any) -> dict[str, Any]:
    base = {"aud": AUDIENCE, "iat": NOW, "exp": NOW + 60, "conv": "conv-1", "chn": "web", "usr": "visitor-1"}
    base.update({"turn": "t-1", "sub": "C1001", "vby": "token"})
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


@pytest.mark.parametrize(
    "token",
    [
        mint_turn_token(ANNA, "another-secret-entirely-32-bytes!", now=NOW),
        _unsigned(_claims()),
        jwt.encode(_claims(), SECRET, algorithm="HS512"),
        jwt.encode(_claims(aud="someone-else"), SECRET, algorithm="HS256"),
        jwt.encode(_claims(aud=...), SECRET, algorithm="HS256"),
        jwt.encode(_claims(conv=...), SECRET, algorithm="HS256"),
        jwt.encode(_claims(usr=""), SECRET, algorithm="HS256"),
        jwt.encode(_claims(exp=...), SECRET, algorithm="HS256"),
        jwt.encode(_claims(iat="yesterday"), SECRET, algorithm="HS256"),
        jwt.encode(_claims(exp=NOW + 3600), SECRET, algorithm="HS256"),  # longer-lived than any turn token
        mint_turn_token(ANNA, SECRET, now=NOW)[:-3] + "abc",  # tampered signature
        "not.a.token",
        "",
        None,
        {"sub": "C1001"},
    ],
    ids=[
        "forged",
        "alg-none",
        "hs512",
        "other-audience",
        "no-audience",
        "no-conversation",
        "empty-channel-user",
        "no-expiry",
        "bad-iat",
        "too-long-lived",
        "tampered",
        "garbage",
        "empty",
        "none",
        "not-a-string",
    ],
)
def test_bad_tokens_vouch_for_nobody(token: object) -> None:
    assert verify(token) is None


def test_an_expired_token_vouches_for_nobody() -> None:
    token = mint_turn_token(ANNA, SECRET, now=NOW)
    assert verify(token, now=NOW + TURN_TTL_S + LEEWAY_S) == ANNA  # the last accepted moment
    assert verify(token, now=NOW + TURN_TTL_S + LEEWAY_S + 1) is None
    assert verify(mint_turn_token(ANNA, SECRET, ttl_s=-1, now=NOW), now=NOW + LEEWAY_S) is None


def test_a_token_issued_in_the_future_vouches_for_nobody() -> None:
    assert verify(mint_turn_token(ANNA, SECRET, now=NOW + LEEWAY_S + 5)) is None


def test_a_token_replayed_in_another_conversation_or_turn_vouches_for_nobody() -> None:
    token = mint_turn_token(ANNA, SECRET, now=NOW)
    assert verify(token, conversation="attackers-conversation") is None
    assert verify(token, turn="t-2") is None
    assert verify(token, turn=None) is None


def test_minting_needs_a_secret_and_the_whole_chat_address() -> None:
    for identity, secret in (
        (ANNA, ""),
        (TurnIdentity("", "web", "u"), SECRET),
        (TurnIdentity("c", "", "u"), SECRET),
        (TurnIdentity("c", "web", ""), SECRET),
    ):
        with pytest.raises(ValueError, match="must not be empty"):
            mint_turn_token(identity, secret)
    assert verify_turn_token(mint_turn_token(ANNA, SECRET), "", conversation_id="conv-1", turn="t-1") is None
