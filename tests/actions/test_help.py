"""actions/help.py: policy and how-to questions answered from the help center, and the customer's verdict."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.clarify import ActionClarify
from actions.help import ActionHelpAnswer, ActionHelpFeedback
from actions.services import Services
from bot.db.models import HelpAnswer
from bot.help.replies import article_payload, feedback_payload
from tests.actions.helpers import CONVERSATION, make_tracker, run

RETURN_WINDOW = "returns-policy#how-long-do-i-have-to-return-something"
YES_NO = [
    {"title": "Yes, thanks", "payload": '/help_feedback{"helpful": "yes"}'},
    {"title": "No", "payload": '/help_feedback{"helpful": "no"}'},
]
PERSON = {"title": "Talk to a person", "payload": "/request_human"}


def rows(services: Services) -> list[dict[str, Any]]:
    table = HelpAnswer.__table__
    with services.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]


def test_names_match_the_domain() -> None:
    assert ActionHelpAnswer().name() == "action_help_answer"
    assert ActionHelpFeedback().name() == "action_help_feedback"
    assert feedback_payload(True) == YES_NO[0]["payload"]


async def test_a_policy_question_gets_the_passage_a_link_and_feedback_buttons(services: Services) -> None:
    tracker = make_tracker("how many days do i have to send a router back?", "order_return")

    events, messages = await run(ActionHelpAnswer(), tracker)

    section = next(s for s in services.help_index.articles["returns-policy"].sections if s.id == RETURN_WINDOW)
    [message] = messages
    assert message["text"].startswith(section.text.split("\n")[0][:60])
    assert "http://localhost:8080/help/returns-policy" in message["text"]
    assert message["text"].endswith("Did that answer your question?")
    assert message["buttons"] == YES_NO
    [row] = rows(services)
    assert (row["conversation_id"], row["decision"], row["section_id"], row["helpful"]) == (
        CONVERSATION,
        "answer",
        RETURN_WINDOW,
        None,
    )
    assert events[0] == SlotSet("help_answer_id", float(row["id"]))
    assert events[1]["name"] == "help_alternative" and events[1]["value"] not in (None, "returns-policy")


async def test_a_question_the_help_center_does_not_answer_is_not_guessed(services: Services) -> None:
    tracker = make_tracker("do you have a student discount on the mesh trio", "ask_help")

    _, messages = await run(ActionHelpAnswer(), tracker)

    [message] = messages
    assert "Did that answer your question?" not in message["text"]
    assert message["buttons"][-1] == PERSON
    assert rows(services)[0]["decision"] in ("suggest", "none")


async def test_an_article_picked_from_suggestions_is_shown(services: Services) -> None:
    tracker = make_tracker(
        article_payload("guest-network"), "help_article", entities=[("help_article", "guest-network")]
    )

    events, messages = await run(ActionHelpAnswer(), tracker)

    [message] = messages
    assert message["text"].startswith("Guest Wi-Fi network: ")
    assert "http://localhost:8080/help/guest-network" in message["text"]
    assert message["buttons"] == YES_NO
    assert rows(services)[0]["section_id"] == "guest-network"
    assert events == [SlotSet("help_answer_id", float(rows(services)[0]["id"])), SlotSet("help_alternative", None)]


async def test_no_records_the_verdict_once_and_offers_another_article_and_a_person(services: Services) -> None:
    _, _ = await run(ActionHelpAnswer(), make_tracker("how long have i got to return stuff", "order_return"))
    answer_id = rows(services)[0]["id"]
    slots = {"help_answer_id": float(answer_id), "help_alternative": "return-how-to"}
    no = make_tracker(feedback_payload(False), "help_feedback", entities=[("helpful", "no")], slots=slots)

    events, messages = await run(ActionHelpFeedback(), no)

    assert messages[0]["buttons"] == [
        {"title": "How to return an item", "payload": article_payload("return-how-to")},
        PERSON,
    ]
    assert rows(services)[0]["helpful"] is False
    assert events == [SlotSet("help_answer_id", None), SlotSet("help_alternative", None)]

    yes = make_tracker(feedback_payload(True), "help_feedback", entities=[("helpful", "yes")], slots=slots)
    _, messages = await run(ActionHelpFeedback(), yes)
    assert messages[0]["buttons"] == []
    assert rows(services)[0]["helpful"] is False  # the first click counts


async def test_a_verdict_without_yes_or_no_is_not_recorded(services: Services) -> None:
    await run(ActionHelpAnswer(), make_tracker("how long have i got to return stuff", "order_return"))
    answer_id = rows(services)[0]["id"]
    bare = make_tracker("/help_feedback", "help_feedback", slots={"help_answer_id": float(answer_id)})
    _, messages = await run(ActionHelpFeedback(), bare)
    assert messages and rows(services)[0]["helpful"] is None


async def test_feedback_on_another_conversations_answer_changes_nothing(services: Services) -> None:
    await run(ActionHelpAnswer(), make_tracker("how long have i got to return stuff", "order_return"))
    answer_id = rows(services)[0]["id"]
    other = make_tracker(
        feedback_payload(True),
        "help_feedback",
        entities=[("helpful", "yes")],
        slots={"help_answer_id": float(answer_id)},
        sender_id="another-conversation",
    )

    await run(ActionHelpFeedback(), other)

    assert rows(services)[0]["helpful"] is None


async def test_a_message_no_intent_fits_is_answered_from_the_help_center_when_it_is_sure(services: Services) -> None:
    ranking = [("nlu_fallback", 0.45), ("billing_question", 0.3), ("order_status", 0.2)]
    tracker = make_tracker("how do i unsubscribe from the newsletter", "nlu_fallback", ranking=ranking)

    _, messages = await run(ActionClarify(), tracker)

    assert messages[0]["buttons"] == YES_NO
    assert rows(services)[0]["section_id"].startswith("newsletter#")
