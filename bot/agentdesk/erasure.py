"""Erasing a customer's copies in Slack: the messages the agent desk posted about their handoffs.

Each post the desk made in a handoff's thread (the customer's messages, echoes of agents'
replies from other desks, nudges) is deleted with ``chat.delete``. The thread's root message is
kept, because agents' own replies hang on it, but its text and blocks (reason, customer id,
summary) are replaced by a neutral notice with ``chat.update``. A message Slack no longer has
counts as erased. Agents' own replies cannot be deleted with a bot token (a bot deletes only
its own messages); the command says so.

Runs in the CLI process (``python -m bot customers erase``) with a Web API client of its own
(:func:`bot.slack.app.web_client`), before the database rows that lead to the posts are deleted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from bot.agentdesk.texts import SlackDeskTexts
from bot.db.models import SlackDeskPost
from bot.identity.privacy import CopiesNotErased, ErasureSubject
from bot.slack.mrkdwn import escape_mrkdwn

_LOGGER = logging.getLogger(__name__)

#: Slack's answer for a message it no longer has: already erased.
_GONE = "message_not_found"


class SlackDeskCopies:
    """The Slack desk's posts about a customer's handoffs (a :class:`~bot.identity.privacy.CustomerCopies`)."""

    def __init__(self, client: AsyncWebClient | None, engine: Engine, texts: SlackDeskTexts | None = None) -> None:
        """Delete with ``client`` (None: Slack is not configured here) the posts recorded in ``engine``."""
        self._client = client
        self._engine = engine
        self._texts = texts or SlackDeskTexts()

    async def erase(self, subject: ErasureSubject) -> dict[str, int]:
        """Delete the thread posts, blank the roots; ``slack_messages`` and ``slack_threads`` erased.

        Raises:
            CopiesNotErased: Slack is not configured while posts exist, or Slack refused some.
        """
        posts = await asyncio.to_thread(self._posts, subject.handoff_ids)
        counts = {"slack_messages": 0, "slack_threads": 0}
        if not posts:
            return counts
        if self._client is None:
            raise CopiesNotErased(
                f"the Slack agent desk posted {len(posts)} message(s) about this customer's handoffs, and Slack "
                "is not configured here: set BOT_SLACK_BOT_TOKEN (and BOT_SLACK_API_URL if needed) and run the "
                "command again; nothing was erased"
            )
        failures: list[str] = []
        for post_id, kind, channel, ts in posts:
            failure = await self._erase_post(self._client, kind, channel, ts)
            if failure is not None:
                failures.append(failure)
                continue
            await asyncio.to_thread(self._forget, post_id)
            counts["slack_threads" if kind == "root" else "slack_messages"] += 1
        _LOGGER.info(
            "privacy.slack_erased messages=%d threads=%d failed=%d",
            counts["slack_messages"],
            counts["slack_threads"],
            len(failures),
        )
        if failures:
            raise CopiesNotErased(
                f"{len(failures)} of {len(posts)} Slack desk message(s) could not be erased (Slack: "
                f"{', '.join(sorted(set(failures)))}); {sum(counts.values())} were; the customer's other data was "
                "not erased yet: run the command again"
            )
        return counts

    async def _erase_post(self, client: AsyncWebClient, kind: str, channel: str, ts: str) -> str | None:
        """Erase one post; None when done (or already gone), else why not."""
        try:
            if kind == "root":
                text = self._texts.erased
                blocks: list[dict[str, Any]] = [
                    {"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(text)}}
                ]
                await client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            else:
                await client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if error == _GONE:
                return None
            return str(error or f"HTTP {exc.response.status_code}")
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return type(exc).__name__
        return None

    def _posts(self, handoff_ids: tuple[int, ...]) -> list[tuple[int, str, str, str]]:
        """(id, kind, channel, ts) of the posts: thread posts first, then the roots."""
        if not handoff_ids:
            return []
        query = select(SlackDeskPost.id, SlackDeskPost.kind, SlackDeskPost.channel, SlackDeskPost.ts).where(
            SlackDeskPost.handoff_id.in_(handoff_ids)
        )
        with self._engine.connect() as connection:
            rows = [(int(i), str(k), str(c), str(t)) for i, k, c, t in connection.execute(query)]
        return sorted(rows, key=lambda row: (row[1] == "root", row[0]))

    def _forget(self, post_id: int) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(SlackDeskPost).where(SlackDeskPost.id == post_id))
