"""actions/identity.py: link a chat to a customer with a code emailed to the address on file, and unlink it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.identity import ActionLinkingDone, ActionStartLinking, ActionUnlink, ValidateLinkForm
from actions.records import ActionOrderStatus
from actions.services import Services
from bot.db.models import ChannelIdentity
from tests.actions.helpers import CHANNEL_USER, Mailbox, load_domain, make_tracker, run, said, slot

ANNA = "anna.schmidt30@example.com"  # C1001 in data/records/customers.csv
STOP = {"requested_slot": None}
CLEARED = [SlotSet("link_email", None), SlotSet("link_code", None), SlotSet("pending_request", None)]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def link_tracker(text: str, **slots: object) -> Tracker:
    return make_tracker(text, "inform", active_loop="link_form", slots={"requested_slot": "link_code", **slots})


async def validate_email(value: object) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    result = await ValidateLinkForm().validate_link_email(value, dispatcher, link_tracker(str(value)), {})
    return result, dispatcher.messages


async def validate_code(value: object) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    result = await ValidateLinkForm().validate_link_code(
        value, dispatcher, link_tracker(str(value), link_email="sent"), {}
    )
    return result, dispatcher.messages


def linked_rows(services: Services) -> list[tuple[str, str, str | None]]:
    with Session(services.engine) as session:
        rows = session.execute(select(ChannelIdentity).order_by(ChannelIdentity.id)).scalars()
        return [(r.channel, r.external_id, r.customer_id) for r in rows]


def test_names_match_the_domain() -> None:
    assert [a.name() for a in (ActionStartLinking(), ValidateLinkForm(), ActionLinkingDone(), ActionUnlink())] == [
        "action_start_linking",
        "validate_link_form",
        "action_linking_done",
        "action_unlink",
    ]


# -- action_start_linking ---------------------------------------------------------------------


async def test_start_linking_opens_the_form_for_an_anonymous_chat(services: Services) -> None:
    events, messages = await run(ActionStartLinking(), make_tracker("verify me", "link_account"))

    assert messages == []
    assert events == [SlotSet("link_email", None), SlotSet("link_code", None), FollowupAction("link_form")]


async def test_start_linking_in_a_verified_chat_says_so(services: Services) -> None:
    events, messages = await run(ActionStartLinking(), make_tracker("verify me", "link_account", customer_id="C1004"))

    assert (messages, events) == ([said("utter_already_verified")], [])


# -- validate_link_form -----------------------------------------------------------------------


async def test_a_code_is_mailed_and_the_right_one_links_the_chat(services: Services, maildir: Mailbox) -> None:
    tracker = make_tracker(ANNA, "inform", active_loop="link_form", after=[slot("link_email", ANNA)])
    events, messages = await run(ValidateLinkForm(), tracker, load_domain())
    assert (events, messages) == ([SlotSet("link_email", "sent")], [])  # the address itself is never kept
    [(to, code)] = maildir.new()
    assert to == ANNA

    assert await validate_code(wrong(code)) == (
        {"link_code": None, "link_email": "retry"},
        [said("utter_link_code_wrong", tries_left="4")],
    )
    assert await validate_code("12ab") == (  # not 6 digits: asked again, not counted
        {"link_code": None, "link_email": "retry"},
        [said("utter_link_code_invalid")],
    )
    assert await validate_code(wrong(wrong(code))) == (
        {"link_code": None, "link_email": "retry"},
        [said("utter_link_code_wrong", tries_left="3")],
    )
    assert linked_rows(services) == []

    assert await validate_code(f"{code[:3]} {code[3:]}") == ({"link_code": "ok"}, [said("utter_link_done")])
    assert linked_rows(services) == [("web", CHANNEL_USER, "C1001")]

    # The code works once.
    assert await validate_code(code) == (
        {"link_code": None, "link_email": None, **STOP},
        [said("utter_link_code_expired")],
    )


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(services: Services, maildir: Mailbox) -> None:
    assert await validate_email("nobody@example.com") == ({"link_email": "sent"}, [])
    assert maildir.new() == []

    # Whatever code is typed then, it can never link.
    assert await validate_code("123456") == (
        {"link_code": None, "link_email": "retry"},
        [said("utter_link_code_wrong", tries_left="4")],
    )
    assert linked_rows(services) == []


async def test_not_an_email_address_is_asked_again(services: Services, maildir: Mailbox) -> None:
    assert await validate_email("my email is anna") == ({"link_email": None}, [said("utter_link_email_invalid")])
    assert maildir.new() == []


async def test_nothing_typed_yet_is_not_validated(services: Services) -> None:
    assert await validate_email(None) == ({}, [])
    assert await validate_code(None) == ({}, [])


async def test_a_fourth_code_within_ten_minutes_is_refused_and_the_form_stops(
    services: Services, maildir: Mailbox
) -> None:
    results = [await validate_email(ANNA) for _ in range(4)]

    assert results == [({"link_email": "sent"}, [])] * 3 + [
        ({"link_email": None, **STOP}, [said("utter_link_too_many")])
    ]
    assert [to for to, _ in maildir.new()] == [ANNA] * 3


async def test_five_wrong_codes_lock_linking_even_for_the_right_code(services: Services, maildir: Mailbox) -> None:
    await validate_email(ANNA)
    [(_, code)] = maildir.new()
    bad = wrong(code)

    results = [await validate_code(bad) for _ in range(5)]

    assert results == [
        ({"link_code": None, "link_email": "retry"}, [said("utter_link_code_wrong", tries_left=str(left))])
        for left in (4, 3, 2, 1)
    ] + [({"link_code": None, "link_email": None, **STOP}, [said("utter_link_locked")])]
    assert await validate_code(code) == ({"link_code": None, "link_email": None, **STOP}, [said("utter_link_locked")])
    assert await validate_email(ANNA) == ({"link_email": None, **STOP}, [said("utter_link_locked")])
    assert linked_rows(services) == []


async def test_a_code_without_a_request_stops_the_form(services: Services) -> None:
    assert await validate_code("123456") == (
        {"link_code": None, "link_email": None, **STOP},
        [said("utter_link_code_expired")],
    )


# -- action_linking_done ----------------------------------------------------------------------


async def test_linking_done_answers_the_question_asked_before_verifying(services: Services, maildir: Mailbox) -> None:
    # An anonymous customer asks for an order: verify first, the question is kept.
    asked = make_tracker("where is order 100161?", "order_status", entities=[("order_number", "100161")])
    events, messages = await run(ActionOrderStatus(), asked)
    assert events == [SlotSet("pending_request", "action_order_status"), FollowupAction("link_form")]

    await validate_email(ANNA)
    [(_, code)] = maildir.new()
    assert (await validate_code(code))[0] == {"link_code": "ok"}

    done = make_tracker(code, "inform", slots={"pending_request": "action_order_status", "link_code": "ok"})
    events, messages = await run(ActionLinkingDone(), done)
    assert (events, messages) == ([*CLEARED, FollowupAction("action_order_status")], [])

    # The follow-up runs in the same turn (the latest message is the code); the order number of the
    # question is still in its slot (from_entity mapping), and the chat is now linked to C1001.
    followup = make_tracker(code, "inform", slots={"order_number": "100161"})
    events, messages = await run(ActionOrderStatus(), followup)
    assert events == [SlotSet("order_number", None), SlotSet("order_tries", 0.0), SlotSet("last_order", "100161")]
    assert messages == [
        said(
            "utter_order_cancelled",
            number="100161",
            placed="25 Jun 2026",
            items="Nimbus PowerLink AV1000 Kit, Nimbus 5G External Antenna Kit",
            total="€104.98",
            carrier="our carrier",
            tracking="-",
            shipped="-",
            delivered="-",
        )
    ]


async def test_linking_done_without_verification_only_clears_the_form(services: Services) -> None:
    tracker = make_tracker("stop", "stop", slots={"pending_request": "action_billing_status"})

    assert await run(ActionLinkingDone(), tracker) == (CLEARED, [])


async def test_linking_done_without_a_pending_question(services: Services) -> None:
    assert await run(ActionLinkingDone(), make_tracker("123456", "inform", customer_id="C1004")) == (CLEARED, [])


# -- action_unlink ----------------------------------------------------------------------------


async def test_unlink_forgets_the_link_of_this_chat_only(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        linked_at = dt.datetime(2026, 11, 20)
        session.add(ChannelIdentity(channel="web", external_id=CHANNEL_USER, customer_id="C1001", linked_at=linked_at))
        session.add(
            ChannelIdentity(channel="telegram", external_id=CHANNEL_USER, customer_id="C1001", linked_at=linked_at)
        )

    assert await run(ActionUnlink(), make_tracker("unlink my account", "unlink_account")) == (
        [],
        [said("utter_unlinked")],
    )
    assert linked_rows(services) == [("web", CHANNEL_USER, None), ("telegram", CHANNEL_USER, "C1001")]
    assert await run(ActionUnlink(), make_tracker("unlink my account", "unlink_account")) == (
        [],
        [said("utter_not_linked")],
    )


async def test_unlink_of_a_token_verified_web_session_has_no_link_to_remove(services: Services) -> None:
    tracker = make_tracker("unlink me", "unlink_account", customer_id="C1004")

    assert await run(ActionUnlink(), tracker) == ([], [said("utter_not_linked")])
