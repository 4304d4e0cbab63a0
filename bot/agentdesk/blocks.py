"""Pure translators between handoffs and Slack messages (Block Kit out, agent text in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.agentdesk.texts import SlackDeskTexts
from bot.slack.mrkdwn import escape_mrkdwn

CLAIM_ACTION = "handoff_claim"
RESOLVE_ACTION = "handoff_resolve"
#: Longest text a section block takes (Slack rejects longer ones).
_SECTION_LIMIT = 3000


@dataclass(frozen=True)
class HandoffCard:
    """What the root message of a handoff shows."""

    handoff_id: int
    reason: str
    customer_id: str | None
    channel: str
    summary: str | None


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    fields = [
        f"*{texts.reason}:* {escape_mrkdwn(card.reason)}",
        f"*{texts.customer}:* {escape_mrkdwn(card.customer_id) if card.customer_id else texts.anonymous}",
        f"*{texts.channel}:* {escape_mrkdwn(card.channel)}",
        f"*{texts.summary}:* {escape_mrkdwn(card.summary) if card.summary else texts.no_summary}",
    ]
    body = _truncate(f"*{escape_mrkdwn(title)}*\n" + "\n".join(fields), _SECTION_LIMIT)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(state)}]},
    ]
    buttons: list[dict[str, Any]] = []
    if claimable:
        buttons.append(_button(texts.claim_button, CLAIM_ACTION, card.handoff_id, style="primary"))
    if resolvable:
        buttons.append(_button(texts.resolve_button, RESOLVE_ACTION, card.handoff_id))
    if buttons:
        blocks.append({"type": "actions", "block_id": f"handoff-{card.handoff_id}", "elements": buttons})
    return f"{title}: {state}", blocks


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
