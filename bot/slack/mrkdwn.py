"""Slack's mrkdwn both ways: escape what we post, read what people typed as plain text (pure)."""

from __future__ import annotations

import re

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_within(text: str, limit: int) -> str:
    """``text`` escaped, cut (with "…") so the escaped form is at most ``limit`` characters.

    The cut falls between characters of the original text, never inside an entity such as
    ``&amp;``, so Slack never sees a raw ``&`` and the text reads back as written.
    """
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    kept, length = [], 0
    for char in text:
        piece = escape_mrkdwn(char)
        if length + len(piece) > limit - 1:
            break
        kept.append(piece)
        length += len(piece)
    return "".join(kept) + "…"


def plain_from_slack(text: str) -> str:
    """A Slack message as plain text (links spelled out, mentions by name, entities decoded)."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#", "!")):
            return label or target  # a mention: keep the visible name, never the raw id syntax
        target = target.removeprefix("mailto:")
        return f"{label} ({target})" if label and label != target else target

    text = _LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
