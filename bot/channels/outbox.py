"""The durable outbox of the push channels: every message to a Telegram or Slack chat is sent from here.

A conversation with an address gets an ``channel_outbox`` row for each bot, agent and system
message, written in the same transaction as the message (see
:class:`~bot.conversations.store.ConversationStore`). :class:`OutboxWorker` sends them:

* in order per chat (a chat's next message waits until the previous one is sent or given up);
* at the platform's pace (:class:`PlatformLimits`: Telegram at most one message a second per chat
  and 30 a second overall, Slack one a second per channel);
* honouring a 429's ``retry_after`` / ``Retry-After`` for that chat;
* retrying network errors and 5xx answers with capped exponential backoff for a day
  (:mod:`bot.channels.retry`), then setting the message aside as a dead letter (``dead``), as at
  once on a permanent refusal (the bot was blocked, the chat is gone); agents see dead letters
  and can send them again.

A row is leased while it is being sent. A gateway killed during a send leaves that one row
``sending``; the restarted replica (same owner id) takes it back at once and sends it again —
the only message that can arrive twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine

from bot.channels.pacing import LocalPacer, Pacer
from bot.channels.retry import DEAD, DEFAULT_POLICY, RetryPolicy
from bot.channels.worker import RoundWorker
from bot.conversations.store import stored_message
from bot.core.logs import log_id
from bot.core.messages import StoredMessage
from bot.db.engine import session_factory
from bot.db.models import Message, OutboxItem, utcnow

_LOGGER = logging.getLogger(__name__)

OPEN_STATES = ("pending", "sending")


class SendError(Exception):
    """A send did not succeed."""


class RateLimited(SendError):
    """The platform answered 429: wait ``retry_after`` seconds before the next send to that chat."""

    def __init__(self, retry_after: float) -> None:
        """Keep the platform's wait (seconds)."""
        super().__init__(f"rate limited for {retry_after:g} s")
        self.retry_after = retry_after


class TemporaryFailure(SendError):
    """A network error, a timeout or a 5xx answer: try again later."""


class PermanentFailure(SendError):
    """The platform refused for good (blocked by the user, chat not found): give the message up."""


@dataclass(frozen=True)
class PlatformLimits:
    """How fast one platform may be sent to."""

    per_chat_interval_s: float
    per_second_total: float | None = None


TELEGRAM_LIMITS = PlatformLimits(per_chat_interval_s=1.0, per_second_total=30.0)
SLACK_LIMITS = PlatformLimits(per_chat_interval_s=1.0)


@dataclass(frozen=True)
class DeadReply:
    """A reply that could not be delivered (for the agents' dead-letter list)."""

    id: int
    platform: str
    conversation_id: str
    message_id: int
    attempts: int
    error: str | None


@dataclass(frozen=True)
class Delivery:
    """One outbox row being sent."""

    id: int
    platform: str
    chat_key: str
    conversation_id: str
    message_id: int
    address: dict[str, Any]
    attempts: int


class PlatformSender(Protocol):
    """Sends one stored message to a platform chat (``bot.channels.telegram``, ``bot.channels.slack``)."""

    platform: str
    limits: PlatformLimits

    async def deliver(self, delivery: Delivery, message: StoredMessage) -> str | None:
        """Send it; return the platform's id of the sent message.

        Raises:
            RateLimited, TemporaryFailure, PermanentFailure: as the platform answered.
        """


class Outbox:
    """SQL access to ``channel_outbox`` (off the event loop)."""

    def __init__(self, engine: Engine, owner: str, lease_s: float = 30.0) -> None:
        """Work as ``owner`` (the replica's id); a row being sent is held for ``lease_s`` seconds."""
        self._sessions = session_factory(engine)
        self.owner = owner
        self._lease = dt.timedelta(seconds=lease_s)

    async def claim(self, platforms: Iterable[str], skip_chats: Iterable[str]) -> list[Delivery]:
        """Lease the oldest unsent row of each chat that is due and not held by another sender."""
        return await asyncio.to_thread(self._claim, tuple(platforms), frozenset(skip_chats))

    def _claim(self, platforms: tuple[str, ...], skip: frozenset[str]) -> list[Delivery]:
        now = utcnow()
        with self._sessions() as session:
            rows = session.execute(
                select(OutboxItem)
                .where(OutboxItem.state.in_(OPEN_STATES), OutboxItem.platform.in_(platforms))
                .order_by(OutboxItem.id)
                .limit(2000)
            ).scalars()
            heads: dict[str, OutboxItem] = {}
            for row in rows:
                heads.setdefault(row.chat_key, row)
        claimed: list[Delivery] = []
        for head in heads.values():
            if head.chat_key in skip or head.next_attempt_at > now:
                continue
            with self._sessions.begin() as session:
                taken = session.execute(
                    update(OutboxItem)
                    .where(
                        OutboxItem.id == head.id,
                        OutboxItem.state.in_(OPEN_STATES),
                        or_(
                            OutboxItem.lease_until.is_(None),
                            OutboxItem.lease_until < now,
                            OutboxItem.lease_owner == self.owner,
                        ),
                    )
                    .values(
                        state="sending",
                        lease_owner=self.owner,
                        lease_until=now + self._lease,
                        attempts=OutboxItem.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                ).rowcount
            if taken == 1:
                claimed.append(
                    Delivery(
                        id=head.id,
                        platform=head.platform,
                        chat_key=head.chat_key,
                        conversation_id=head.conversation_id,
                        message_id=head.message_id,
                        address=dict(head.address or {}),
                        attempts=head.attempts + 1,
                    )
                )
        return claimed

    async def message(self, message_id: int) -> StoredMessage | None:
        """The conversation message a row delivers."""

        def load() -> StoredMessage | None:
            with self._sessions() as session:
                row = session.get(Message, message_id)
                return stored_message(row) if row is not None else None

        return await asyncio.to_thread(load)

    async def last_sent(self, chat_key: str) -> dt.datetime | None:
        """When the chat was last sent to (paces the first send after a restart)."""

        def load() -> dt.datetime | None:
            with self._sessions() as session:
                value = session.execute(
                    select(func.max(OutboxItem.sent_at)).where(
                        OutboxItem.chat_key == chat_key, OutboxItem.state == "sent"
                    )
                ).scalar_one_or_none()
                return value if isinstance(value, dt.datetime) else None

        return await asyncio.to_thread(load)

    async def sent(self, delivery: Delivery, platform_ref: str | None) -> None:
        """Mark a row sent."""
        await self._set(
            delivery.id,
            state="sent",
            sent_at=utcnow(),
            platform_ref=(platform_ref or "")[:100] or None,
            lease_owner=None,
            lease_until=None,
            error=None,
        )

    async def later(self, delivery: Delivery, delay_s: float, error: str, *, count_attempt: bool = True) -> None:
        """Put a row back for another try in ``delay_s`` seconds (a 429 does not count as an attempt)."""
        values: dict[str, Any] = {
            "state": "pending",
            "next_attempt_at": utcnow() + dt.timedelta(seconds=delay_s),
            "lease_owner": None,
            "lease_until": None,
            "error": error[:200],
        }
        if not count_attempt:
            values["attempts"] = max(0, delivery.attempts - 1)
        await self._set(delivery.id, **values)

    async def give_up(self, delivery: Delivery, error: str) -> None:
        """Set a row aside as a dead letter: it is not sent again (unless revived), the chat's next message goes on."""
        await self._set(delivery.id, state=DEAD, lease_owner=None, lease_until=None, error=error[:200])

    async def dead_letters(self, limit: int = 200) -> list[DeadReply]:
        """Replies given up, newest first."""

        def load() -> list[DeadReply]:
            with self._sessions() as session:
                rows = session.execute(
                    select(OutboxItem).where(OutboxItem.state == DEAD).order_by(OutboxItem.id.desc()).limit(limit)
                ).scalars()
                return [
                    DeadReply(row.id, row.platform, row.conversation_id, row.message_id, row.attempts, row.error)
                    for row in rows
                ]

        return await asyncio.to_thread(load)

    async def revive(self, row_id: int) -> bool:
        """Give a dead letter a new day of attempts (an agent retried it); ``False`` if it is not dead."""

        def write() -> bool:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == row_id, OutboxItem.state == DEAD)
                    .values(state="pending", attempts=0, next_attempt_at=utcnow(), error=None)
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)

        return await asyncio.to_thread(write)

    async def _set(self, row_id: int, **values: Any) -> None:
        def write() -> None:
            with self._sessions.begin() as session:
                session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == row_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )

        await asyncio.to_thread(write)

    async def counts(self) -> dict[str, int]:
        """Rows per state (for metrics and tests)."""

        def load() -> dict[str, int]:
            with self._sessions() as session:
                rows = session.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all()
                return {str(state): int(count) for state, count in rows}

        return await asyncio.to_thread(load)


class OutboxWorker(RoundWorker):
    """Sends due outbox rows: chats in parallel, each chat's messages in order and at its pace."""

    name = "outbox"

    def __init__(
        self,
        outbox: Outbox,
        senders: Iterable[PlatformSender],
        poll_s: float = 0.5,
        policy: RetryPolicy = DEFAULT_POLICY,
        pacer: Callable[[str, float | None], Pacer] = lambda _platform, rate: LocalPacer(rate),
    ) -> None:
        """Send each platform's rows with its sender; look for work at least every ``poll_s`` seconds.

        ``pacer`` makes each platform's overall pace from its name and limit: this process's own
        by default, one shared by every replica in a cluster (:class:`bot.channels.pacing.RedisPacer`).
        """
        super().__init__(poll_s)
        self._outbox = outbox
        self._policy = policy
        self._pacer = pacer
        self._senders = {sender.platform: sender for sender in senders}
        self._pacers = {name: pacer(name, sender.limits.per_second_total) for name, sender in self._senders.items()}
        #: monotonic time before which a chat must not be sent to (pace, or a 429's wait)
        self._ready_at: dict[str, float] = {}

    def register(self, sender: PlatformSender) -> None:
        """Send its platform's rows with ``sender`` (before :meth:`start`)."""
        self._senders[sender.platform] = sender
        self._pacers[sender.platform] = self._pacer(sender.platform, sender.limits.per_second_total)

    def _has_work(self) -> bool:
        return bool(self._senders)

    def _timeout(self) -> float:
        """Wake when the next paced chat becomes ready (or after the poll interval)."""
        now = time.monotonic()
        waits = [at - now for key, at in self._ready_at.items() if at > now and key not in self._busy]
        return min([self._poll_s, *waits])

    async def _round(self) -> None:
        now = time.monotonic()
        waiting = {key for key, at in self._ready_at.items() if at > now}
        for key in [key for key, at in self._ready_at.items() if at <= now - 60]:
            del self._ready_at[key]  # forget idle chats
        for delivery in await self._outbox.claim(self._senders, set(self._busy) | waiting):
            self._busy[delivery.chat_key] = asyncio.create_task(self._send(delivery))

    async def _send(self, delivery: Delivery) -> None:
        sender = self._senders[delivery.platform]
        interval = sender.limits.per_chat_interval_s
        try:
            if delivery.chat_key not in self._ready_at:
                last = await self._outbox.last_sent(delivery.chat_key)
                if last is not None:
                    since = (utcnow() - last).total_seconds()
                    if since < interval:
                        await asyncio.sleep(interval - since)
            await self._pacers[delivery.platform].wait()
            message = await self._outbox.message(delivery.message_id)
            if message is None:
                await self._outbox.give_up(delivery, "message deleted")
                return
            self._ready_at[delivery.chat_key] = time.monotonic() + interval
            try:
                ref = await sender.deliver(delivery, message)
            except RateLimited as exc:
                wait = max(exc.retry_after, interval)
                self._ready_at[delivery.chat_key] = time.monotonic() + wait
                _LOGGER.warning(
                    "outbox.rate_limited chat=%s retry_after=%.1f", log_id(delivery.chat_key), exc.retry_after
                )
                await self._outbox.later(delivery, wait, str(exc), count_attempt=False)
                return
            except PermanentFailure as exc:
                _LOGGER.error("outbox.refused chat=%s row=%d error=%s", log_id(delivery.chat_key), delivery.id, exc)
                await self._outbox.give_up(delivery, str(exc))
                return
            except Exception as exc:  # TemporaryFailure, or anything unexpected: retry with backoff
                await self._retry(delivery, exc)
                return
            await self._outbox.sent(delivery, ref)
            _LOGGER.info(
                "outbox.sent platform=%s row=%d attempts=%d", delivery.platform, delivery.id, delivery.attempts
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("outbox.bookkeeping_failed row=%d", delivery.id)
        finally:
            self._busy.pop(delivery.chat_key, None)
            self.wake()

    async def _retry(self, delivery: Delivery, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if self._policy.exhausted(delivery.attempts):
            _LOGGER.error("outbox.dead_letter chat=%s row=%d error=%s", log_id(delivery.chat_key), delivery.id, error)
            await self._outbox.give_up(delivery, error)
            return
        delay = self._policy.delay(delivery.attempts)
        _LOGGER.warning(
            "outbox.retry chat=%s row=%d in=%.1fs error=%s", log_id(delivery.chat_key), delivery.id, delay, error
        )
        self._ready_at[delivery.chat_key] = time.monotonic() + delay
        await self._outbox.later(delivery, delay, error)
