"""Translating Rasa's REST answers into replies (bot/dialogue/rasa_client.py)."""

from __future__ import annotations

import pytest

from bot.core.messages import Button
from bot.dialogue.rasa_client import BotReply, DialogueUnavailable, replies_from_rasa


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
