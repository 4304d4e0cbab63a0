"""Pure translators between handoffs and Slack messages (Block Kit out, agent text in)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.agentdesk.texts import SlackDeskTexts
from bot.slack.mrkdwn import escape_mrkdwn

CLAIM_ACTION = "handoff_claim"
RESOLVE_ACTION = "handoff_resolve"
ACCEPT_ACTION = "offer_accept"
DECLINE_ACTION = "offer_decline"
#: The App Home's presence buttons: ``presence_online``, ``presence_away``, ``presence_offline``.
PRESENCE_ACTION_PREFIX = "presence_"
PRESENCES = ("online", "away", "offline")
#: Longest text a section block takes (Slack rejects longer ones).
_SECTION_LIMIT = 3000


@dataclass(frozen=True)
class HandoffCard:
    """What the root message of a handoff (and an offer of it) shows."""

    handoff_id: int
    reason: str
    customer_id: str | None
    channel: str
    summary: str | None
    queue: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _card_section(card: HandoffCard, texts: SlackDeskTexts, title: str) -> dict[str, Any]:
    fields = [f"*{texts.reason}:* {escape_mrkdwn(card.reason)}"]
    if card.queue:
        fields.append(f"*{texts.queue}:* {escape_mrkdwn(card.queue)}")
    fields += [
        f"*{texts.language}:* {escape_mrkdwn(card.language) if card.language else texts.unknown_language}",
        f"*{texts.customer}:* {escape_mrkdwn(card.customer_id) if card.customer_id else texts.anonymous}",
        f"*{texts.channel}:* {escape_mrkdwn(card.channel)}",
    ]
    if card.tags:
        fields.append(f"*{texts.tags}:* {escape_mrkdwn(', '.join(card.tags))}")
    fields.append(f"*{texts.summary}:* {escape_mrkdwn(card.summary) if card.summary else texts.no_summary}")
    body = _truncate(f"*{escape_mrkdwn(title)}*\n" + "\n".join(fields), _SECTION_LIMIT)
    return {"type": "section", "text": {"type": "mrkdwn", "text": body}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(text)}]}


def root_message(
    card: HandoffCard, texts: SlackDeskTexts, *, state: str, claimable: bool, resolvable: bool
) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and the blocks of a handoff's root message.

    Args:
        card: The handoff's facts (escaped here; pass raw values).
        texts: Agent-facing wording.
        state: Already-formatted state line (e.g. "Claimed by Lena"), escaped here.
        claimable: Show the "Claim" button.
        resolvable: Show the "Resolve" button.
    """
    title = texts.new_handoff.format(id=card.handoff_id)
    blocks: list[dict[str, Any]] = [_card_section(card, texts, title), _context(state)]
    buttons: list[dict[str, Any]] = []
    if claimable:
        buttons.append(_button(texts.claim_button, CLAIM_ACTION, card.handoff_id, style="primary"))
    if resolvable:
        buttons.append(_button(texts.resolve_button, RESOLVE_ACTION, card.handoff_id))
    if buttons:
        blocks.append({"type": "actions", "block_id": f"handoff-{card.handoff_id}", "elements": buttons})
    return f"{title}: {state}", blocks


def offer_message(
    card: HandoffCard, texts: SlackDeskTexts, *, state: str, open_offer: bool
) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and the blocks of the DM offering a handoff to one agent.

    Args:
        card: The handoff's facts (escaped here; pass raw values).
        texts: Agent-facing wording.
        state: Already-formatted state line ("Accept to take it...", "This offer has passed."), escaped here.
        open_offer: Show "Accept" and "Decline" (the offer still stands).
    """
    title = texts.offer_title.format(id=card.handoff_id)
    blocks: list[dict[str, Any]] = [_card_section(card, texts, title), _context(state)]
    if open_offer:
        buttons = [
            _button(texts.accept_button, ACCEPT_ACTION, card.handoff_id, style="primary"),
            _button(texts.decline_button, DECLINE_ACTION, card.handoff_id),
        ]
        # Not "...-<id>": tests (and erasure checks) tell the channel's root message by that ending.
        blocks.append({"type": "actions", "block_id": f"offer:{card.handoff_id}", "elements": buttons})
    return f"{title}: {state}", blocks


def home_view(texts: SlackDeskTexts, status_line: str, presence: str | None) -> dict[str, Any]:
    """The App Home tab of an agent: their status and one button per presence (the current one marked)."""
    buttons = []
    for status, title in zip(PRESENCES, (texts.online_button, texts.away_button, texts.offline_button), strict=True):
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": title},
            "action_id": PRESENCE_ACTION_PREFIX + status,
            "value": status,
        }
        if status == presence:
            button["style"] = "primary"
        buttons.append(button)
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": texts.home_title}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(status_line, _SECTION_LIMIT)}},
            {"type": "actions", "block_id": "presence", "elements": buttons},
            _context(texts.home_hint),
        ],
    }


def join_words(words: Sequence[str], texts: SlackDeskTexts) -> str:
    """Words for a status line (escaped), or the text for none."""
    return escape_mrkdwn(", ".join(words)) if words else texts.nothing


def _button(title: str, action_id: str, handoff_id: int, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": title},
        "action_id": action_id,
        "value": str(handoff_id),
    }
    if style:
        button["style"] = style
    return button
