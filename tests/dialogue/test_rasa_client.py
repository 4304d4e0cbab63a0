"""Translating Rasa's REST answers into replies (bot/dialogue/rasa_client.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.core.messages import Button
from bot.dialogue.rasa_client import BotReply, DialogueUnavailable, replies_after_turn, replies_from_rasa
from tests.strategies import json_objects, json_values


def test_replies_from_rasa_translates_and_drops_unknown_parts() -> None:
    body = [
        {"recipient_id": "x", "text": "Hello", "buttons": [{"title": "Yes", "payload": "/affirm"}, {"payload": "/x"}]},
        {"recipient_id": "x", "custom": {"foo": 1}},
        {"recipient_id": "x", "image": "https://example.org/a.png"},
        "junk",
    ]
    assert replies_from_rasa(body) == [
        BotReply("Hello", (Button("Yes", "/affirm"),)),
        BotReply("https://example.org/a.png"),
    ]
    with pytest.raises(DialogueUnavailable):
        replies_from_rasa({"error": "x"})


# -- properties (Hypothesis) ------------------------------------------------------------------

ANSWER_KEYS = ("text", "buttons", "image", "title", "payload", "recipient_id", "custom")
EVENT_KEYS = ("event", "text", "data", "metadata", "turn", "buttons", "image", "title", "payload")
button_dicts = st.fixed_dictionaries({"title": st.text(min_size=1), "payload": st.text()})
#: Messages as Rasa's REST channel sends them.
rasa_messages = st.fixed_dictionaries(
    {"recipient_id": st.text(max_size=10)},
    optional={"text": st.text(), "buttons": st.lists(button_dicts, max_size=4), "image": st.text(min_size=1)},
)
#: Anything in the places Rasa's answers have, and anything else.
any_answer = json_values(ANSWER_KEYS) | st.lists(json_objects(ANSWER_KEYS) | json_values(ANSWER_KEYS), max_size=5)
any_events = st.lists(
    json_objects(EVENT_KEYS)
    | st.fixed_dictionaries(
        {"event": st.sampled_from(["user", "bot", "action"])},
        optional={
            "text": json_values(),
            "metadata": json_objects(("turn",)) | st.fixed_dictionaries({"turn": st.sampled_from(["t1", "t2"])}),
            "data": json_objects(("buttons", "image")) | st.fixed_dictionaries({"buttons": any_answer}),
        },
    ),
    max_size=8,
)


def _well_formed_replies(replies: list[BotReply]) -> None:
    for reply in replies:
        assert isinstance(reply.text, str) and (reply.text or reply.buttons)
        assert all(isinstance(b.title, str) and b.title and isinstance(b.payload, str) for b in reply.buttons)


@given(st.lists(rasa_messages, max_size=5))
def test_well_formed_answers_translate_exactly(body: list[dict[str, Any]]) -> None:
    expected = []
    for message in body:
        text = message.get("text") or message.get("image") or ""
        buttons = tuple(Button(b["title"], b["payload"]) for b in message.get("buttons", []))
        if text or buttons:
            expected.append(BotReply(text, buttons))
    assert replies_from_rasa(body) == expected


@given(any_answer)
@example([{"text": "hi", "buttons": 5}])
def test_any_answer_gives_replies_or_dialogue_unavailable(body: Any) -> None:
    try:
        replies = replies_from_rasa(body)
    except DialogueUnavailable:
        assert not isinstance(body, list)
    else:
        assert isinstance(body, list)
        _well_formed_replies(replies)


@given(
    st.lists(st.fixed_dictionaries({"text": st.just("x"), "buttons": st.lists(json_objects(ANSWER_KEYS), max_size=3)}))
)
@example([{"text": "x", "buttons": [{"title": "Yes", "payload": None}]}])
def test_buttons_come_only_from_string_titles_and_payloads(body: list[dict[str, Any]]) -> None:
    given_buttons = [b for m in body for b in m["buttons"] if isinstance(b, dict)]
    strings = {
        (b.get("title"), b.get("payload", ""))
        for b in given_buttons
        if isinstance(b.get("title"), str) and isinstance(b.get("payload", ""), str)
    }
    for reply in replies_from_rasa(body):
        assert all((b.title, b.payload) in strings for b in reply.buttons)


@given(any_events | json_values(EVENT_KEYS), st.sampled_from(["t1", "t2"]))
@example([{"event": "user", "metadata": {"turn": "t1"}}, {"event": "bot", "text": "x", "data": {"buttons": 1}}], "t1")
def test_replies_after_turn_never_raises(events: Any, turn: str) -> None:
    replies = replies_after_turn(events, turn)
    if replies is not None:
        _well_formed_replies(replies)


@given(
    st.lists(st.text(min_size=1), min_size=1, max_size=3),
    st.lists(st.text(min_size=1), max_size=3),
    st.lists(st.text(min_size=1), max_size=3),
)
def test_replies_after_turn_reads_the_tagged_turn(before: list[str], answer: list[str], after: list[str]) -> None:
    events: list[dict[str, Any]] = [{"event": "user", "metadata": {"turn": "old"}}]
    events += [{"event": "bot", "text": t} for t in before]
    events += [{"event": "user", "metadata": {"turn": "mine"}}, {"event": "action", "name": "x"}]
    events += [{"event": "bot", "text": t, "data": {}} for t in answer]
    events += [{"event": "user", "metadata": {"turn": "next"}}] + [{"event": "bot", "text": t} for t in after]
    assert replies_after_turn(events, "mine") == [BotReply(t) for t in answer]
    assert replies_after_turn(events, "missing") is None
