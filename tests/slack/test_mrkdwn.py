"""Properties of Slack's mrkdwn both ways (bot/slack/mrkdwn.py)."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from bot.slack.mrkdwn import escape_mrkdwn, plain_from_slack
from tests.strategies import any_text

#: What may follow a ``&`` in text we post: one of the three entities Slack decodes.
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
texts = any_text | st.text(st.sampled_from("&<>;|@#!amplgt a"), max_size=30)
#: Link targets and labels as Slack writes them (no <, >, |; & is sent as &amp;).
link_parts = st.text(st.characters(blacklist_characters="<>|&"), min_size=1, max_size=30)


@given(texts)
@example("&lt;!channel&gt; &amp;")
def test_escaped_text_reads_back_unchanged(text: str) -> None:
    assert plain_from_slack(escape_mrkdwn(text)) == text


@given(texts)
def test_escaped_text_has_no_raw_control_characters(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert "<" not in escaped and ">" not in escaped
    assert ENTITY.search(escaped) is None


@given(texts)
def test_plain_from_slack_never_raises(text: str) -> None:
    assert isinstance(plain_from_slack(text), str)


@given(link_parts.filter(lambda t: not t.startswith(("@", "#", "!"))), st.none() | link_parts)
def test_links_are_spelled_out(target: str, label: str | None) -> None:
    link = f"<{target}|{label}>" if label is not None else f"<{target}>"
    shown = target.removeprefix("mailto:")
    expected = f"{label} ({shown})" if label and label != shown else shown
    assert plain_from_slack(link) == expected


@given(st.from_regex(r"[UWCS][A-Z0-9]{2,10}", fullmatch=True), st.sampled_from("@#!"), st.none() | link_parts)
def test_mentions_show_the_name_never_the_id_syntax(identifier: str, sigil: str, name: str | None) -> None:
    mention = f"<{sigil}{identifier}|{name}>" if name is not None else f"<{sigil}{identifier}>"
    assert plain_from_slack(mention) == (name or f"{sigil}{identifier}")
