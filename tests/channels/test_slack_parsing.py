"""Properties of the Slack customer channel's pure translators (bot/channels/slack.py), without I/O."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import example, given
from hypothesis import strategies as st

from bot.channels.slack import MAX_BUTTON_TITLE, MAX_TEXT, conversation_id, message_blocks
from bot.core.messages import Button, StoredMessage
from bot.core.text import is_conversation_id
from bot.slack.mrkdwn import escape_mrkdwn, plain_from_slack
from tests.strategies import any_text

RAW_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")
slack_ids = st.from_regex(r"[TCDG][A-Z0-9]{8,10}", fullmatch=True)
timestamps = st.from_regex(r"1[0-9]{9}\.[0-9]{6}", fullmatch=True)
markup_heavy = st.text(st.sampled_from("<>&a;"), max_size=3500)
buttons = st.builds(Button, title=st.text(min_size=1, max_size=120), payload=st.text(max_size=200))


def stored(text: str, with_buttons: list[Button]) -> StoredMessage:
    return StoredMessage(7, "slack-T1-D1", "bot", text, tuple(with_buttons), None, dt.datetime(2026, 1, 1))


@given(slack_ids, slack_ids, st.none() | timestamps)
def test_conversation_ids_are_valid(team: str, channel: str, thread_ts: str | None) -> None:
    assert is_conversation_id(conversation_id(team, channel, thread_ts))


@given(st.tuples(slack_ids, slack_ids, st.none() | timestamps), st.tuples(slack_ids, slack_ids, st.none() | timestamps))
def test_conversation_ids_are_distinct(first: tuple[str, str, str | None], second: tuple[str, str, str | None]) -> None:
    assert (conversation_id(*first) == conversation_id(*second)) == (first == second)


@given(any_text | markup_heavy | st.text(max_size=3200), st.lists(buttons, max_size=30))
def test_message_blocks_keep_block_kit_limits(text: str, with_buttons: list[Button]) -> None:
    fallback, blocks = message_blocks(stored(text, with_buttons))
    section = blocks[0]["text"]["text"]
    assert fallback == section and 1 <= len(section) <= MAX_TEXT
    if not with_buttons:
        assert len(blocks) == 1
        return
    elements = blocks[1]["elements"]
    assert len(elements) == min(len(with_buttons), 25) and len(blocks[1]["block_id"]) <= 255
    assert len({e["action_id"] for e in elements}) == len(elements)
    for element, button in zip(elements, with_buttons, strict=False):
        assert element["text"]["text"] == button.title[:MAX_BUTTON_TITLE]
        assert 1 <= len(element["text"]["text"]) <= MAX_BUTTON_TITLE and len(element["value"]) <= 2000


@given(st.text(max_size=2900).filter(lambda t: len(escape_mrkdwn(t)) <= MAX_TEXT))
def test_short_texts_read_back_unchanged(text: str) -> None:
    fallback, _ = message_blocks(stored(text, []))
    assert plain_from_slack(fallback) == (text or "…")


@given(markup_heavy.filter(lambda t: len(t) > 1000))
@example("a" * 2998 + "&")
def test_long_texts_are_cut_without_leaking_markup(text: str) -> None:
    fallback, _ = message_blocks(stored(text, []))
    assert "<" not in fallback and ">" not in fallback and RAW_AMPERSAND.search(fallback) is None
    shown = plain_from_slack(fallback)
    assert shown == text or (shown.endswith("…") and text.startswith(shown[:-1]))
