"""Which chat a customer's order updates go to: a Telegram or Slack chat linked to them.

A chat can be written to later only on a push channel (the web widget's tab is gone once closed).
The customer's linked channel identities (``channel_identities`` with their ``customer_id``) name
the chats; the most recently used one wins:

* Telegram: the private chat with the linked user, conversation ``telegram-<user id>`` (created
  when the customer never wrote in it, e.g. linked by a deep link), as ``bot.channels.telegram``
  names it.
* Slack: the customer's newest direct-message conversation with the bot (a Slack DM's channel id
  is not the user's id, so only a DM the customer wrote in, as a verified customer, is known).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.models import ChannelIdentity, Conversation

#: The push channels a notification may go to.
PUSH_CHANNELS = ("telegram", "slack")


@dataclass(frozen=True)
class Chat:
    """A conversation on a push channel and its address (see :mod:`bot.core.address`)."""

    conversation_id: str
    channel: str
    address: dict[str, Any]


def linked_chat(session: Session, customer_id: str) -> Chat | None:
    """The push chat the customer's updates go to, or ``None`` when no chat is linked to them."""
    identities = session.execute(
        select(ChannelIdentity.channel, ChannelIdentity.external_id)
        .where(ChannelIdentity.customer_id == customer_id, ChannelIdentity.channel.in_(PUSH_CHANNELS))
        .order_by(
            func.coalesce(ChannelIdentity.last_seen_at, ChannelIdentity.linked_at, ChannelIdentity.created_at).desc(),
            ChannelIdentity.id.desc(),
        )
    ).all()
    for channel, external_id in identities:
        chat = _telegram_chat(session, external_id) if channel == "telegram" else _slack_dm(session, customer_id)
        if chat is not None:
            return chat
    return None


def _telegram_chat(session: Session, user_id: str) -> Chat | None:
    try:
        chat_id = int(user_id)
    except ValueError:
        return None
    conversation_id = f"telegram-{chat_id}"
    existing = session.get(Conversation, conversation_id)
    address = existing.address if existing is not None and isinstance(existing.address, dict) else None
    return Chat(conversation_id, "telegram", address or {"platform": "telegram", "chat_id": chat_id})


def _slack_dm(session: Session, customer_id: str) -> Chat | None:
    rows = session.execute(
        select(Conversation.id, Conversation.address)
        .where(Conversation.customer_id == customer_id, Conversation.channel == "slack")
        .order_by(Conversation.updated_at.desc())
        .limit(20)
    ).all()
    for conversation_id, address in rows:
        if isinstance(address, dict) and address.get("channel") and not address.get("thread_ts"):
            return Chat(str(conversation_id), "slack", dict(address))
    return None
