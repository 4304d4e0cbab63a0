"""Slack customers, through slack-bolt: direct messages to the app and mentions in channels.

* A direct message (``message`` event, ``channel_type: im``): one conversation per DM channel,
  answered in the DM.
* A mention of the app in a channel (``app_mention``): one conversation per thread, answered in
  that thread; the customer's later replies in the thread continue it without a mention.
* Buttons are Block Kit buttons whose ``value`` names the stored message and the button
  (``<cursor>:<index>``); a press sends that button's payload.
* Every event is stored in the durable inbox before Slack is answered, under its ``event_id``
  (a redelivered event is dropped); the customer's message is also keyed by channel and ``ts``,
  so the ``message`` and ``app_mention`` copies of one message make one turn.
* Replies leave through the outbox (:class:`SlackSender`) with ``&``, ``<`` and ``>`` escaped, so
  text a customer typed (echoed in a reply) cannot mention ``@channel`` or forge links.

Messages in the agents' channel belong to the desk (:mod:`bot.agentdesk.slack`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.inbox import Inbox, InboxEvent
from bot.channels.outbox import SLACK_LIMITS, Delivery, PermanentFailure, RateLimited, TemporaryFailure
from bot.channels.texts import ChannelTexts
from bot.conversations.service import ConversationService, CustomerMessage, InboxTurn
from bot.conversations.store import ConversationStore
from bot.core.messages import StoredMessage
from bot.core.text import clean_text
from bot.settings import Limits, SlackSettings
from bot.slack.app import SlackApp
from bot.slack.mrkdwn import escape_within, plain_from_slack

_LOGGER = logging.getLogger(__name__)

PLATFORM = "slack"
BUTTON_ACTION = re.compile(r"^customer_button_\d+$")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
#: Slack errors that will not go away by retrying.
_PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "account_inactive",
    "invalid_auth",
    "token_revoked",
    "not_authed",
    "msg_too_long",
    "invalid_blocks",
    "restricted_action",
    "user_not_found",
}
#: Slack's limits on a message's text and a button's label.
MAX_TEXT = 3000
MAX_BUTTON_TITLE = 75


def conversation_id(team: str, channel: str, thread_ts: str | None) -> str:
    """``slack-<team>-<channel>`` for a DM, ``…-<thread ts>`` for a thread in a channel."""
    base = f"slack-{team}-{channel}"
    return f"{base}-{thread_ts}" if thread_ts else base


def message_blocks(message: StoredMessage) -> tuple[str, list[dict[str, Any]]]:
    """A stored message as Slack's fallback text and Block Kit blocks (text escaped, buttons kept)."""
    text = escape_within(message.text or "…", MAX_TEXT)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if message.buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"buttons_{message.cursor}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"customer_button_{index}",
                        "text": {"type": "plain_text", "text": button.title[:MAX_BUTTON_TITLE], "emoji": True},
                        "value": f"{message.cursor}:{index}",
                    }
                    for index, button in enumerate(message.buttons[:25])
                ],
            }
        )
    return text, blocks


class SlackSender:
    """Posts stored messages to Slack (the outbox's Slack side); its client never retries by itself."""

    platform = PLATFORM
    limits = SLACK_LIMITS

    def __init__(self, settings: SlackSettings, session: aiohttp.ClientSession | None = None) -> None:
        """A Web API client of its own: retries are the outbox's, counted and paced."""
        self.client = AsyncWebClient(
            token=settings.bot_token,
            base_url=settings.api_url,
            session=session,
            timeout=10,
            retry_handlers=[],
        )

    async def deliver(self, delivery: Delivery, message: StoredMessage) -> str | None:
        """``chat.postMessage`` in the DM or the thread; translate Slack's errors."""
        text, blocks = message_blocks(message)
        thread_ts = delivery.address.get("thread_ts")
        try:
            response = await self.client.chat_postMessage(
                channel=str(delivery.address["channel"]),
                thread_ts=thread_ts if isinstance(thread_ts, str) else None,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
            if status == 429 or error == "ratelimited":
                raise RateLimited(_retry_after(exc.response.headers)) from exc
            if status < 500 and error in _PERMANENT_ERRORS:
                raise PermanentFailure(error) from exc
            raise TemporaryFailure(f"HTTP {status} {error}".strip()) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TemporaryFailure(type(exc).__name__) from exc
        return str(response.get("ts") or "") or None


def _retry_after(headers: Any) -> float:
    for key in ("Retry-After", "retry-after"):
        value = headers.get(key) if headers else None
        if isinstance(value, list):
            value = value[0] if value else None
        try:
            return max(0.0, float(value)) if value is not None else 1.0
        except (TypeError, ValueError):
            continue
    return 1.0


class SlackCustomers:
    """The Slack customer channel: events into the inbox, inbox events into customer turns."""

    def __init__(
        self,
        slack: SlackApp,
        *,
        limits: Limits,
        inbox: Inbox,
        conversations: ConversationService,
        store: ConversationStore,
        texts: ChannelTexts,
        wake_inbox: Callable[[], None],
        is_desk_channel: Callable[[str], bool],
    ) -> None:
        """Register the listeners on the gateway's Slack app (messages in the agents' channel are the desk's)."""
        self._limits = limits
        self._inbox = inbox
        self._conversations = conversations
        self._store = store
        self._texts = texts
        self._wake_inbox = wake_inbox
        self._is_desk_channel = is_desk_channel
        slack.on_message(self._on_message)
        slack.bolt.event("app_mention")(self._on_mention)
        slack.bolt.action(BUTTON_ACTION)(self._on_button)

    # -- in (listeners: store, then Slack is answered) --------------------------------------

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> bool:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return False
        channel = str(event.get("channel", ""))
        team = str(body.get("team_id") or event.get("team") or "")
        if self._is_desk_channel(channel):
            return False
        if event.get("channel_type") == "im":
            conversation = conversation_id(team, channel, None)
        else:
            thread_ts = event.get("thread_ts")
            if not isinstance(thread_ts, str) or _MENTION.search(str(event.get("text", ""))):
                return False  # not in a thread, or a mention (its app_mention event carries it)
            conversation = conversation_id(team, channel, thread_ts)
            if await self._store.get(conversation) is None:
                return False  # a thread the bot is not part of
        await self._accept(body, conversation)
        return True

    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        channel = str(event.get("channel", ""))
        if event.get("bot_id") or not event.get("user") or self._is_desk_channel(channel):
            return
        team = str(body.get("team_id") or event.get("team") or "")
        thread_ts = event.get("thread_ts") or event.get("ts")
        if not isinstance(thread_ts, str):
            return
        await self._accept(body, conversation_id(team, channel, thread_ts))

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        try:
            value = str(body["actions"][0]["value"])
            trigger = str(body.get("trigger_id") or body["actions"][0].get("action_ts"))
            cursor = int(value.split(":")[0])
        except (KeyError, IndexError, TypeError, ValueError):
            _LOGGER.warning("slack.bad_button")
            return
        message = await self._store.message(cursor)
        if message is None:
            return
        await self._accept(body, message.conversation_id, external_id=f"action:{trigger}")

    async def _accept(self, body: dict[str, Any], conversation: str, external_id: str | None = None) -> None:
        key = external_id or str(body.get("event_id") or "")
        if not key:
            return
        try:
            new = await self._inbox.accept(PLATFORM, key, conversation, body)
        except SQLAlchemyError:
            # Unanswered, Slack delivers the event again; its listener fails so the answer is an error.
            _LOGGER.exception("slack.store_failed")
            raise
        if new:
            self._wake_inbox()
        else:
            _LOGGER.info("slack.redelivery event=%s", key)

    # -- processing (inbox worker) ----------------------------------------------------------

    async def process(self, event: InboxEvent) -> None:
        """Turn one stored event into a customer turn."""
        body = event.body
        if body.get("type") == "block_actions":
            await self._process_button(event, body)
            return
        inner = body.get("event")
        if not isinstance(inner, dict):
            return
        channel = str(inner.get("channel", ""))
        team = str(body.get("team_id") or inner.get("team") or "")
        thread_ts = None if inner.get("channel_type") == "im" else (inner.get("thread_ts") or inner.get("ts"))
        address = {"platform": PLATFORM, "team": team, "channel": channel, "thread_ts": thread_ts}
        text = clean_text(plain_from_slack(_MENTION.sub("", str(inner.get("text", "")))))
        if not text:
            await self._notice(event, address, self._texts.unsupported_content)
            return
        if len(text) > self._limits.max_message_chars:
            limit = self._limits.max_message_chars
            await self._notice(event, address, self._texts.message_too_long.format(limit=limit))
            return
        await self._conversations.handle(
            CustomerMessage(
                conversation_id=event.conversation_id,
                channel=PLATFORM,
                text=text,
                client_id=f"slack:{channel}:{inner.get('ts')}",
                channel_user=str(inner.get("user", "")),
                address=address,
            ),
            InboxTurn(event.id, event.state),
        )

    async def _process_button(self, event: InboxEvent, body: dict[str, Any]) -> None:
        try:
            cursor_text, index_text = str(body["actions"][0]["value"]).split(":")
            user = str(body["user"]["id"])
        except (KeyError, IndexError, TypeError, ValueError):
            return
        info = await self._store.get(event.conversation_id)
        message = await self._store.message(int(cursor_text)) if cursor_text.isdigit() else None
        index = int(index_text) if index_text.isdigit() else -1
        if info is None or info.address is None or message is None or not 0 <= index < len(message.buttons):
            return
        button = message.buttons[index]
        await self._conversations.handle(
            CustomerMessage(
                conversation_id=event.conversation_id,
                channel=PLATFORM,
                text=button.title,
                payload=button.payload,
                client_id=f"slack-{event.external_id}"[:64],
                channel_user=user,
                address=info.address,
            ),
            InboxTurn(event.id, event.state),
        )

    async def _notice(self, event: InboxEvent, address: dict[str, Any], text: str) -> None:
        await self._store.ensure(event.conversation_id, PLATFORM, None, address)
        await self._conversations.system_message(event.conversation_id, text)
