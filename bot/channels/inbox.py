"""The durable inbox of the push channels: platform events are stored before they are acknowledged.

A webhook (or a long poll) calls :meth:`Inbox.accept` and answers the platform only after it
returned: an event is then in the database, and a redelivery of it (same platform id) is
recognised and dropped. :class:`InboxWorker` processes the stored events, one at a time per
conversation and in arrival order, with a lease per event so that a worker that dies (a killed
gateway) leaves its event to the next one: the same replica takes it back at once after a
restart, another one when the lease has run out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.channels.worker import RoundWorker
from bot.db.engine import session_factory
from bot.db.models import InboxItem, utcnow

_LOGGER = logging.getLogger(__name__)

#: States in which an event still waits to be (fully) processed.
OPEN_STATES = ("pending", "stored")
#: Processing attempts before an event is set aside as ``failed`` (its conversation goes on).
MAX_ATTEMPTS = 6
#: How long finished events are kept: redeliveries come within minutes (Slack) or a day (Telegram).
KEEP_FINISHED = dt.timedelta(days=3)


@dataclass(frozen=True)
class InboxEvent:
    """A stored platform event, as handed to its platform's processor."""

    id: int
    platform: str
    external_id: str
    conversation_id: str
    body: dict[str, Any]
    state: str
    attempts: int


class Inbox:
    """SQL access to ``channel_inbox`` (off the event loop)."""

    def __init__(self, engine: Engine, owner: str, lease_s: float = 60.0) -> None:
        """Work as ``owner`` (the replica's id); a claimed event is held for ``lease_s`` seconds."""
        self._sessions = session_factory(engine)
        self.owner = owner
        self._lease = dt.timedelta(seconds=lease_s)

    async def accept(self, platform: str, external_id: str, conversation_id: str, body: dict[str, Any]) -> bool:
        """Store an event; ``False`` when this platform id was stored before (a redelivery).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database is unavailable (answer the platform
                with an error so that it delivers again later).
        """
        return await asyncio.to_thread(self._accept, platform, external_id, conversation_id, body)

    def _accept(self, platform: str, external_id: str, conversation_id: str, body: dict[str, Any]) -> bool:
        try:
            with self._sessions.begin() as session:
                session.add(
                    InboxItem(
                        platform=platform,
                        external_id=external_id,
                        conversation_id=conversation_id,
                        body=body,
                        state="pending",
                        attempts=0,
                        received_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    async def claim(self, platforms: Iterable[str], skip_conversations: Iterable[str] = ()) -> list[InboxEvent]:
        """Lease the oldest open event of each conversation that is due and not held by another worker."""
        return await asyncio.to_thread(self._claim, tuple(platforms), frozenset(skip_conversations))

    def _claim(self, platforms: tuple[str, ...], skip: frozenset[str]) -> list[InboxEvent]:
        now = utcnow()
        with self._sessions() as session:
            rows = session.execute(
                select(InboxItem)
                .where(InboxItem.state.in_(OPEN_STATES), InboxItem.platform.in_(platforms))
                .order_by(InboxItem.id)
                .limit(1000)
            ).scalars()
            heads: dict[str, InboxItem] = {}
            for row in rows:
                heads.setdefault(row.conversation_id, row)
        claimed: list[InboxEvent] = []
        for head in heads.values():
            if head.conversation_id in skip or (head.next_attempt_at is not None and head.next_attempt_at > now):
                continue
            with self._sessions.begin() as session:
                taken = session.execute(
                    update(InboxItem)
                    .where(
                        InboxItem.id == head.id,
                        InboxItem.state == head.state,
                        or_(
                            InboxItem.lease_until.is_(None),
                            InboxItem.lease_until < now,
                            InboxItem.lease_owner == self.owner,
                        ),
                    )
                    .values(lease_owner=self.owner, lease_until=now + self._lease, attempts=InboxItem.attempts + 1)
                    .execution_options(synchronize_session=False)
                ).rowcount
            if taken == 1:
                claimed.append(
                    InboxEvent(
                        id=head.id,
                        platform=head.platform,
                        external_id=head.external_id,
                        conversation_id=head.conversation_id,
                        body=dict(head.body or {}),
                        state=head.state,
                        attempts=head.attempts + 1,
                    )
                )
        return claimed

    async def finish(self, item_id: int, state: str = "done") -> None:
        """Close an event its processor handled without storing a turn (a no-op when already closed)."""
        await asyncio.to_thread(self._finish, item_id, state)

    def _finish(self, item_id: int, state: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(InboxItem)
                .where(InboxItem.id == item_id, InboxItem.state.in_(OPEN_STATES))
                .values(state=state, done_at=utcnow(), lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    async def retry_later(self, item_id: int, attempts: int, error: str) -> bool:
        """Release a failed event for a later attempt; ``False`` when it was given up (``failed``)."""
        return await asyncio.to_thread(self._retry_later, item_id, attempts, error)

    def _retry_later(self, item_id: int, attempts: int, error: str) -> bool:
        give_up = attempts >= MAX_ATTEMPTS
        delay = dt.timedelta(seconds=min(60.0, 0.5 * 2**attempts) * random.uniform(0.8, 1.2))
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "error": error[:200]}
        if give_up:
            values.update(state="failed", done_at=utcnow())
        else:
            values["next_attempt_at"] = utcnow() + delay
        with self._sessions.begin() as session:
            session.execute(
                update(InboxItem)
                .where(InboxItem.id == item_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return not give_up

    async def purge(self) -> int:
        """Delete finished events older than :data:`KEEP_FINISHED`; return how many."""
        return await asyncio.to_thread(self._purge)

    def _purge(self) -> int:
        with self._sessions.begin() as session:
            result = session.execute(
                delete(InboxItem)
                .where(InboxItem.state.notin_(OPEN_STATES), InboxItem.received_at < utcnow() - KEEP_FINISHED)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)

    async def counts(self) -> dict[str, int]:
        """Events per state (for metrics and tests)."""
        return await asyncio.to_thread(self._counts)

    def _counts(self) -> dict[str, int]:
        with self._sessions() as session:
            counts: dict[str, int] = {}
            for (state,) in session.execute(select(InboxItem.state)):
                counts[state] = counts.get(state, 0) + 1
            return counts


Processor = Callable[[InboxEvent], Awaitable[None]]


class InboxWorker(RoundWorker):
    """Processes stored events: conversations in parallel, each conversation's events in order."""

    name = "inbox"

    def __init__(self, inbox: Inbox, processors: dict[str, Processor], poll_s: float = 0.5) -> None:
        """Process each platform's events with its processor; look for work every ``poll_s`` seconds."""
        super().__init__(poll_s)
        self._inbox = inbox
        self._processors = processors
        self._last_purge = 0.0

    def register(self, platform: str, processor: Processor) -> None:
        """Process ``platform``'s events with ``processor`` (before :meth:`start`)."""
        self._processors[platform] = processor

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms whose events this worker processes."""
        return tuple(self._processors)

    def _has_work(self) -> bool:
        return bool(self._processors)

    async def _round(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_purge > 600:
            self._last_purge = loop.time()
            purged = await self._inbox.purge()
            if purged:
                _LOGGER.info("inbox.purged events=%d", purged)
        for event in await self._inbox.claim(self._processors, self._busy):
            self._busy[event.conversation_id] = asyncio.create_task(self._process(event))

    async def _process(self, event: InboxEvent) -> None:
        try:
            await self._processors[event.platform](event)
            await self._inbox.finish(event.id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _LOGGER.exception("inbox.process_failed platform=%s item=%d", event.platform, event.id)
            kept = await self._inbox.retry_later(event.id, event.attempts, type(exc).__name__)
            if not kept:
                _LOGGER.error("inbox.gave_up platform=%s item=%d", event.platform, event.id)
        finally:
            self._busy.pop(event.conversation_id, None)
            self.wake()
