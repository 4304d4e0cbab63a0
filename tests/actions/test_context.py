"""actions/context.py: identity only from a turn token the gateway signed for this conversation and turn.

Whatever else reaches the action server (plain metadata claiming a customer, a token signed
with another key, expired, unsigned, minted for another conversation or another turn) is an
anonymous customer: asked to verify, no record looked up, no chat linked or unlinked.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.context import channel_identity, channel_name, verified_customer
from actions.identity import ActionStartLinking, ActionUnlink, ValidateLinkForm
from actions.records import ActionOrderStatus, ActionRecentOrders, ActionWarrantyStatus
from actions.services import Services
from bot.db.models import ChannelIdentity
from bot.identity.turns import METADATA_KEY, TurnIdentity, mint_turn_token
from tests.actions.helpers import (
    CHANNEL_USER,
    CONVERSATION,
    TURN_SECRET,
    Mailbox,
    audit_rows,
    forged_identity,
    identity,
    make_tracker,
    run,
    said,
)

ANNA = "anna.schmidt30@example.com"  # C1001 in data/records/customers.csv


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _other_turn() -> dict[str, Any]:
    """A valid token for turn ``t-1`` on a message whose metadata says turn ``t-2``."""
    vouched = TurnIdentity(CONVERSATION, "web", CHANNEL_USER, "C1004", "token", turn="t-1")
    return {"channel": "web", "turn": "t-2", METADATA_KEY: mint_turn_token(vouched, TURN_SECRET)}


def untrusted(kind: str, customer_id: str | None = "C1004") -> dict[str, Any]:
    """Metadata of each kind the actions must not believe."""
    now = int(time.time())
    claims = {"aud": "support-bot/actions", "iat": now, "exp": now + 60, "conv": CONVERSATION, "chn": "web"}
    match kind:
        case "plain-claims":  # the attack: metadata that just says who it is
            return forged_identity(customer_id or "C1004")
        case "wrong-secret":
            return identity(customer_id, secret="not-the-turn-secret-but-just-as-long")
        case "expired":
            return identity(customer_id, ttl_s=-300)
        case "other-conversation":
            return identity(customer_id, conversation="someone-elses-conversation")
        case "other-turn":
            return _other_turn()
        case "alg-none":
            return {METADATA_KEY: _unsigned({**claims, "usr": CHANNEL_USER, "sub": customer_id, "vby": "token"})}
        case "garbage":
            return {METADATA_KEY: "not.a.token", "customer_id": customer_id}
        case "not-a-string":
            return {METADATA_KEY: {"sub": customer_id, "conv": CONVERSATION}}
    raise AssertionError(kind)


KINDS = [
    "plain-claims",
    "wrong-secret",
    "expired",
    "other-conversation",
    "other-turn",
    "alg-none",
    "garbage",
    "not-a-string",
]


@pytest.mark.parametrize("kind", KINDS)
async def test_untrusted_identity_is_anonymous_and_nothing_is_looked_up(kind: str, services: Services) -> None:
    answers = {}
    for action in (ActionRecentOrders(), ActionWarrantyStatus(), ActionOrderStatus()):
        tracker = make_tracker(
            "show my recent orders 100378",
            "order_status",
            entities=[("order_number", "100378")],
            metadata=untrusted(kind),
        )
        answers[action.name()] = await run(action, tracker)

    assert answers == {
        name: ([SlotSet("pending_request", name), FollowupAction("link_form")], [said("utter_need_verification")])
        for name in ("action_recent_orders", "action_warranty_status", "action_order_status")
    }
    assert audit_rows(services.engine) == []  # nothing was looked up


async def test_a_signed_token_for_this_conversation_and_turn_is_believed(services: Services) -> None:
    vouched = TurnIdentity(CONVERSATION, "telegram", "tg-42", "C1004", "token", turn="t-7")
    tracker = make_tracker(
        "where is 100378",
        "order_status",
        entities=[("order_number", "100378")],
        metadata={"turn": "t-7", METADATA_KEY: mint_turn_token(vouched, TURN_SECRET)},
    )

    assert await verified_customer(tracker) == "C1004"
    assert channel_identity(tracker) == ("telegram", "tg-42") and channel_name(tracker) == "telegram"
    await run(ActionOrderStatus(), tracker)
    assert audit_rows(services.engine) == [("C1004", "order", "telegram", "found")]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_forged_channel_user_cannot_read_a_linked_chat(kind: str, services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        session.add(
            ChannelIdentity(
                channel="web", external_id=CHANNEL_USER, customer_id="C1004", linked_at=dt.datetime(2026, 11, 20)
            )
        )
    tracker = make_tracker("my orders", "recent_orders", metadata=untrusted(kind, customer_id=None))

    assert await verified_customer(tracker) is None
    assert channel_identity(tracker) is None and channel_name(tracker) == "unknown"
    _, messages = await run(ActionRecentOrders(), tracker)
    assert messages == [said("utter_need_verification")]
    assert audit_rows(services.engine) == []
    # The genuine chat, with the gateway's token, is still verified by its link.
    assert await verified_customer(make_tracker("my orders", "recent_orders")) == "C1004"


@pytest.mark.parametrize("kind", ["plain-claims", "wrong-secret", "other-conversation"])
async def test_an_unverified_chat_links_and_unlinks_nothing(kind: str, services: Services, maildir: Mailbox) -> None:
    with Session(services.engine) as session, session.begin():
        session.add(
            ChannelIdentity(
                channel="web", external_id=CHANNEL_USER, customer_id="C1004", linked_at=dt.datetime(2026, 11, 20)
            )
        )
    metadata = untrusted(kind, customer_id=None)

    def tracker(text: str) -> Any:
        return make_tracker(text, "inform", active_loop="link_form", metadata=metadata)

    # Asked to link: no code is mailed (the answer is the one for an address not on file).
    dispatcher = CollectingDispatcher()
    assert await ValidateLinkForm().validate_link_email(ANNA, dispatcher, tracker(ANNA), {}) == {"link_email": "sent"}
    assert dispatcher.messages == [] and maildir.new() == []
    # A code typed is not checked against any chat, and the form stops.
    dispatcher = CollectingDispatcher()
    result = await ValidateLinkForm().validate_link_code("123456", dispatcher, tracker("123456"), {})
    assert result == {"link_code": None, "link_email": None, "requested_slot": None}
    assert dispatcher.messages == [said("utter_link_code_expired")]
    # The link of the chat it claims to be stays.
    assert await run(ActionUnlink(), tracker("unlink my account")) == ([], [said("utter_not_linked")])
    with Session(services.engine) as session:
        rows = session.execute(select(ChannelIdentity.customer_id)).scalars().all()
    assert rows == ["C1004"]
    # It is not "already verified" either: it is offered the form like any anonymous chat.
    events, _ = await run(ActionStartLinking(), make_tracker("verify me", "link_account", metadata=metadata))
    assert FollowupAction("link_form") in events
