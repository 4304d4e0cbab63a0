"""The durable inbox of every channel: a customer's message is stored before it is acknowledged.

A webhook, a long poll, a widget's WebSocket frame or a direct-API request calls
:meth:`Inbox.accept` and answers only after it returned: the message is then in the database,
and a redelivery of it (same platform id: an update id, an event id, a client id, an
idempotency key) is recognised and not stored again. :class:`InboxWorker` turns the stored
events into customer turns, one at a time per conversation and in arrival order, with a lease
per event, so that a worker that dies (a killed gateway) leaves its event to the next one: the
same replica takes it back at once after a restart, another one when the lease has run out.
Whatever happens to the socket or the client, an accepted message is answered once.

The worker runs at most ``max_concurrent`` turns at a time (each asks the dialogue server
once) and picks the next ones round-robin across platforms, so a flood on one channel cannot
starve the others. A conversation being erased (``erasures``) is left alone until the erasure
ends. A failing event is retried with backoff for a day (:mod:`bot.channels.retry`), then
set aside as a dead letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.channels.retry import DEAD, DEFAULT_POLICY, RetryPolicy
from bot.channels.worker import RoundWorker
from bot.core.logs import log_id
from bot.db.engine import session_factory
from bot.db.models import Erasure, InboxItem, utcnow

_LOGGER = logging.getLogger(__name__)

#: States in which an event still waits to be (fully) processed.
OPEN_STATES = ("pending", "stored")
#: How long finished events are kept: redeliveries come within minutes (Slack) or a day
#: (Telegram), and an idempotency key is honoured for as long.
KEEP_FINISHED = dt.timedelta(days=3)
#: How often a waiting request looks at the database for a turn finished on another replica
#: (a turn finished here wakes it at once). One gateway alone looks only now and then.
CLUSTER_WAIT_POLL_S = 0.25
ALONE_WAIT_POLL_S = 5.0


# Statements of every turn's path, built once with parameters (docs/performance.md).
_BUSY_CONVERSATION = select(
    exists().where(InboxItem.conversation_id == bindparam("cid"), InboxItem.state.in_(OPEN_STATES))
    | exists().where(Erasure.conversation_id == bindparam("cid"))
)
_INSERT_ITEM = insert(InboxItem)
_ITEM = select(InboxItem.__table__).where(InboxItem.id == bindparam("item"))
_ITEMS = select(InboxItem.__table__).where(InboxItem.id.in_(bindparam("items", expanding=True)))
_ERASING = select(Erasure.conversation_id)
_OPEN_ITEMS = (
    select(
        InboxItem.id,
        InboxItem.platform,
        InboxItem.conversation_id,
        InboxItem.state,
        InboxItem.attempts,
        InboxItem.next_attempt_at,
    )
    .where(InboxItem.state.in_(OPEN_STATES), InboxItem.platform.in_(bindparam("platforms", expanding=True)))
    .order_by(InboxItem.id)
    .limit(2000)
)
_CLAIM = (
    update(InboxItem)
    .where(
        InboxItem.id == bindparam("item"),
        InboxItem.state == bindparam("head_state"),
        or_(
            InboxItem.lease_until.is_(None),
            InboxItem.lease_until < bindparam("now"),
            InboxItem.lease_owner == bindparam("owner"),
        ),
    )
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"), attempts=InboxItem.attempts + 1)
)
_FINISH = (
    update(InboxItem)
    .where(InboxItem.id == bindparam("item"), InboxItem.state.in_(OPEN_STATES))
    .values(state=bindparam("new_state"), done_at=bindparam("now"), lease_owner=None, lease_until=None)
)


@dataclass(frozen=True)
class InboxEvent:
    """A stored event, as handed to its platform's processor (``result``: what its turn produced)."""

    id: int
    platform: str
    external_id: str
    conversation_id: str
    body: dict[str, Any]
    state: str
    attempts: int
    result: dict[str, Any] | None = None
    error: str | None = None
    #: Stored already claimed by this replica (:meth:`Inbox.accept_or_find` with ``lease``).
    leased: bool = False


def _event(row: Any, *, attempts: int | None = None) -> InboxEvent:
    """An inbox row (an :class:`InboxItem` or a row of its table) as an event."""
    return InboxEvent(
        id=row.id,
        platform=row.platform,
        external_id=row.external_id,
        conversation_id=row.conversation_id,
        body=dict(row.body or {}),
        state=row.state,
        attempts=row.attempts if attempts is None else attempts,
        result=dict(row.result) if isinstance(row.result, dict) else None,
        error=row.error,
    )


def _round_robin(heads: list[Any], served_last: str | None = None) -> list[Any]:
    """The heads in a fair order: platforms take turns (starting after ``served_last``), each oldest first."""
    queues: dict[str, list[Any]] = {}
    for head in sorted(heads, key=lambda row: row.id):
        queues.setdefault(head.platform, []).append(head)
    platforms = list(queues)
    if served_last in platforms:
        turn = platforms.index(served_last) + 1
        queues = {platform: queues[platform] for platform in platforms[turn:] + platforms[:turn]}
    ordered: list[Any] = []
    while queues:
        for platform in list(queues):
            ordered.append(queues[platform].pop(0))
            if not queues[platform]:
                del queues[platform]
    return ordered


class Inbox:
    """SQL access to ``channel_inbox`` (off the event loop)."""

    def __init__(
        self,
        engine: Engine,
        owner: str,
        lease_s: float = 60.0,
        policy: RetryPolicy = DEFAULT_POLICY,
        wait_poll_s: float = CLUSTER_WAIT_POLL_S,
    ) -> None:
        """Work as ``owner`` (the replica's id); a claimed event is held for ``lease_s`` seconds.

        ``wait_poll_s``: how often :meth:`wait_finished` reads the database, for a turn another
        replica finished (:data:`ALONE_WAIT_POLL_S` when the gateway runs alone).
        """
        self._wait_poll_s = wait_poll_s
        self._engine = engine
        self._sessions = session_factory(engine)
        self.owner = owner
        self._lease = dt.timedelta(seconds=lease_s)
        self._policy = policy
        self._waiters: dict[int, set[asyncio.Event]] = {}

    async def accept(self, platform: str, external_id: str, conversation_id: str, body: dict[str, Any]) -> bool:
        """Store an event; ``False`` when this platform id was stored before (a redelivery).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database is unavailable (answer the sender
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

    async def accept_or_find(
        self, platform: str, external_id: str, conversation_id: str, body: dict[str, Any], *, lease: bool = False
    ) -> tuple[InboxEvent | None, bool]:
        """Store an event as :meth:`accept` does and return it with ``True``; else the stored one with ``False``.

        One trip off the event loop for a request that waits for its own event (the direct API).
        ``(None, False)`` only when the stored event was purged meanwhile.

        ``lease``: store it already claimed by this replica (the returned event then has one
        attempt, and :meth:`InboxWorker.run_now` runs it) when nothing of its conversation is open
        before it and the conversation is not being erased; otherwise it is stored as ``accept``
        stores it, for the worker's rounds (the returned event then has no attempt).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database is unavailable.
        """
        return await asyncio.to_thread(self._accept_or_find, platform, external_id, conversation_id, body, lease)

    def _accept_or_find(
        self, platform: str, external_id: str, conversation_id: str, body: dict[str, Any], lease: bool
    ) -> tuple[InboxEvent | None, bool]:
        now = utcnow()
        try:
            with self._engine.begin() as connection:
                free = lease and not connection.execute(_BUSY_CONVERSATION, {"cid": conversation_id}).scalar()
                values: dict[str, Any] = {
                    "platform": platform,
                    "external_id": external_id,
                    "conversation_id": conversation_id,
                    "body": body,
                    "state": "pending",
                    "attempts": 1 if free else 0,
                    "received_at": now,
                    "lease_owner": self.owner if free else None,
                    "lease_until": now + self._lease if free else None,
                }
                item_id = int(connection.execute(_INSERT_ITEM, values).inserted_primary_key[0])
        except IntegrityError:
            return self._lookup(platform, external_id), False
        event = InboxEvent(
            id=item_id,
            platform=platform,
            external_id=external_id,
            conversation_id=conversation_id,
            body=dict(body),
            state="pending",
            attempts=values["attempts"],
            leased=free,
        )
        return event, True

    def _lookup(self, platform: str, external_id: str) -> InboxEvent | None:
        with self._sessions() as session:
            row = session.execute(
                select(InboxItem).where(InboxItem.platform == platform, InboxItem.external_id == external_id)
            ).scalar_one_or_none()
            return _event(row) if row is not None else None

    async def get(self, item_id: int) -> InboxEvent | None:
        """One event by id."""

        def load() -> InboxEvent | None:
            with self._engine.connect() as connection:
                row = connection.execute(_ITEM, {"item": item_id}).first()
                return _event(row) if row is not None else None

        return await asyncio.to_thread(load)

    async def claim(
        self,
        platforms: Iterable[str],
        skip_conversations: Iterable[str] = (),
        limit: int = 1000,
        served_last: str | None = None,
    ) -> list[InboxEvent]:
        """Lease up to ``limit`` due events, the oldest of each conversation, platforms taking turns.

        ``served_last``: the platform whose event was claimed last; the next platform goes first,
        so that claiming one event at a time still takes turns.
        """
        return await asyncio.to_thread(self._claim, tuple(platforms), frozenset(skip_conversations), limit, served_last)

    def _claim(
        self, platforms: tuple[str, ...], skip: frozenset[str], limit: int, served_last: str | None
    ) -> list[InboxEvent]:
        now = utcnow()
        with self._engine.connect() as connection:  # the heads' few columns, not every row's body
            erasing = set(connection.execute(_ERASING).scalars())
            rows = connection.execute(_OPEN_ITEMS, {"platforms": list(platforms)})
            heads: dict[str, Any] = {}
            for row in rows:
                heads.setdefault(row.conversation_id, row)
        due = [
            head
            for head in heads.values()
            if head.conversation_id not in skip
            and head.conversation_id not in erasing
            and (head.next_attempt_at is None or head.next_attempt_at <= now)
        ]
        taken_ids: list[int] = []
        for head in _round_robin(due, served_last):
            if len(taken_ids) >= limit:
                break
            with self._engine.begin() as connection:
                taken = connection.execute(
                    _CLAIM,
                    {
                        "item": head.id,
                        "head_state": head.state,
                        "now": now,
                        "owner": self.owner,
                        "until": now + self._lease,
                    },
                ).rowcount
            if taken == 1:
                taken_ids.append(head.id)
        if not taken_ids:
            return []
        with self._engine.connect() as connection:
            rows = {row.id: row for row in connection.execute(_ITEMS, {"items": taken_ids})}
        return [_event(rows[item_id]) for item_id in taken_ids if item_id in rows]

    async def renew(self, item_id: int) -> bool:
        """Hold a claimed event for another lease; ``False`` when it is no longer this replica's."""
        return await asyncio.to_thread(self._renew, item_id)

    def _renew(self, item_id: int) -> bool:
        with self._sessions.begin() as session:
            return bool(
                session.execute(
                    update(InboxItem)
                    .where(
                        InboxItem.id == item_id,
                        InboxItem.lease_owner == self.owner,
                        InboxItem.state.in_(OPEN_STATES),
                    )
                    .values(lease_until=utcnow() + self._lease)
                    .execution_options(synchronize_session=False)
                ).rowcount
            )

    @property
    def lease_s(self) -> float:
        """How long a claim holds an event."""
        return self._lease.total_seconds()

    async def finish(self, item_id: int, state: str = "done") -> None:
        """Close an event its processor handled without storing a turn (a no-op when already closed)."""
        await asyncio.to_thread(self._finish, item_id, state)

    def _finish(self, item_id: int, state: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(_FINISH, {"item": item_id, "new_state": state, "now": utcnow()})

    async def retry_later(self, item_id: int, attempts: int, error: str) -> bool:
        """Release a failed event for a later attempt; ``False`` when it became a dead letter."""
        return await asyncio.to_thread(self._retry_later, item_id, attempts, error)

    def _retry_later(self, item_id: int, attempts: int, error: str) -> bool:
        give_up = self._policy.exhausted(attempts)
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "error": error[:200]}
        if give_up:
            values.update(state=DEAD, done_at=utcnow())
        else:
            values["next_attempt_at"] = utcnow() + dt.timedelta(seconds=self._policy.delay(attempts))
        with self._sessions.begin() as session:
            session.execute(
                update(InboxItem)
                .where(InboxItem.id == item_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return not give_up

    async def dead_letters(self, limit: int = 200) -> list[InboxEvent]:
        """Events given up, newest first."""

        def load() -> list[InboxEvent]:
            with self._sessions() as session:
                rows = session.execute(
                    select(InboxItem).where(InboxItem.state == DEAD).order_by(InboxItem.id.desc()).limit(limit)
                ).scalars()
                return [_event(row) for row in rows]

        return await asyncio.to_thread(load)

    async def revive(self, item_id: int) -> bool:
        """Give a dead letter a new day of attempts (an agent retried it); ``False`` if it is not dead."""

        def write() -> bool:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(InboxItem)
                    .where(InboxItem.id == item_id, InboxItem.state == DEAD)
                    .values(state="pending", attempts=0, next_attempt_at=utcnow(), done_at=None, error=None)
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)

        return await asyncio.to_thread(write)

    def notify(self, item_id: int) -> None:
        """Wake whoever waits for this event's turn in this process (:meth:`wait_finished`)."""
        for waiter in self._waiters.get(item_id, ()):
            waiter.set()

    async def wait_finished(self, item_id: int, timeout_s: float, *, open_now: bool = False) -> InboxEvent | None:
        """The event once it is no longer open (its turn done, ignored or dead); ``None`` after ``timeout_s``.

        Woken at once by the worker of this process; an event processed by another replica is
        seen by looking at the database a few times a second. ``open_now``: the caller has just
        stored the event, so the database is first read when woken (or at the first poll).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        waiter = asyncio.Event()
        self._waiters.setdefault(item_id, set()).add(waiter)
        try:
            while True:
                if open_now:
                    open_now = False
                else:
                    event = await self.get(item_id)
                    if event is None or event.state not in OPEN_STATES:
                        return event
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(waiter.wait(), min(remaining, self._wait_poll_s))
                waiter.clear()
        finally:
            waiters = self._waiters.get(item_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[item_id]

    async def purge(self) -> int:
        """Delete finished events older than :data:`KEEP_FINISHED` (dead letters stay); return how many."""
        return await asyncio.to_thread(self._purge)

    def _purge(self) -> int:
        with self._sessions.begin() as session:
            result = session.execute(
                delete(InboxItem)
                .where(
                    InboxItem.state.notin_((*OPEN_STATES, DEAD)),
                    InboxItem.received_at < utcnow() - KEEP_FINISHED,
                )
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)

    async def counts(self) -> dict[str, int]:
        """Events per state (for metrics and tests)."""

        def load() -> dict[str, int]:
            with self._sessions() as session:
                rows = session.execute(select(InboxItem.state, func.count()).group_by(InboxItem.state)).all()
                return {str(state): int(count) for state, count in rows}

        return await asyncio.to_thread(load)


#: Runs an event's turn; ``True`` when the turn closed the event itself (in the transaction that
#: stored its replies), so the worker need not; ``None`` or ``False``: the worker closes it.
Processor = Callable[[InboxEvent], Awaitable[bool | None]]


class InboxWorker(RoundWorker):
    """Processes stored events: conversations in parallel (at most ``max_concurrent``), each in order."""

    name = "inbox"

    def __init__(
        self, inbox: Inbox, processors: dict[str, Processor], poll_s: float = 0.5, max_concurrent: int = 8
    ) -> None:
        """Process each platform's events with its processor; look for work every ``poll_s`` seconds."""
        super().__init__(poll_s)
        self._inbox = inbox
        self._processors = processors
        self._max_concurrent = max(1, max_concurrent)
        self._last_purge = 0.0
        self._served_last: str | None = None

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
        free = self._max_concurrent - len(self._busy)
        if free <= 0:
            return
        claimed = await self._inbox.claim(self._processors, self._busy, limit=free, served_last=self._served_last)
        for event in claimed:
            if event.conversation_id in self._busy:
                continue  # started meanwhile by run_now(): its turn runs already
            self._busy[event.conversation_id] = asyncio.create_task(self._process(event))
            self._served_last = event.platform

    def run_now(self, event: InboxEvent) -> asyncio.Task[None] | None:
        """Start now the turn of an event this replica stored already claimed (``accept_or_find(lease=True)``).

        Saves the request the worker's wake-up and its scan of the inbox (docs/performance.md).
        ``None`` when the event is not leased here, its platform has no processor, the worker
        runs as many turns as it may, or a turn of its conversation runs here already (the caller
        then wakes the worker, whose rounds take it up in their fair order). The task is the
        worker's, as a round's would be: a request that stops waiting does not stop the turn.
        """
        key = event.conversation_id
        if not event.leased or event.platform not in self._processors or key in self._busy:
            return None
        if len(self._busy) >= self._max_concurrent:
            return None  # at capacity: the rounds take it up in their fair order
        task = self._busy[key] = asyncio.create_task(self._process(event))
        return task

    async def _process(self, event: InboxEvent) -> None:
        renewing = asyncio.create_task(self._keep_leased(event))
        try:
            closed = await self._processors[event.platform](event)
            renewing.cancel()
            if not closed:
                await self._inbox.finish(event.id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _LOGGER.exception("inbox.process_failed platform=%s item=%d", event.platform, event.id)
            kept = await self._inbox.retry_later(event.id, event.attempts, type(exc).__name__)
            if not kept:
                _LOGGER.error(
                    "inbox.dead_letter platform=%s item=%d conversation=%s",
                    event.platform,
                    event.id,
                    log_id(event.conversation_id),
                )
        finally:
            renewing.cancel()
            self._busy.pop(event.conversation_id, None)
            self._inbox.notify(event.id)
            self.wake()

    async def _keep_leased(self, event: InboxEvent) -> None:
        """Renew the event's lease every third of it while its turn runs, so no other replica takes it."""
        every = self._inbox.lease_s / 3
        while True:
            await asyncio.sleep(every)
            try:
                if not await self._inbox.renew(event.id):
                    _LOGGER.warning("inbox.lease_lost item=%d", event.id)
                    return
            except Exception:  # the database is away: the next renewal tries again
                _LOGGER.warning("inbox.lease_renewal_failed item=%d", event.id)


class ErasureBlocked(RuntimeError):
    """A conversation to be erased kept a turn in flight for longer than the erasure waits."""


class ErasureLock:
    """Keeps every replica's inbox worker out of conversations while they are erased.

    :func:`bot.identity.privacy.erase_customer` holds it: the conversations are marked in
    ``erasures`` (workers claim nothing of theirs from then on), turns already in flight are
    waited for (their leases end when they finish, or run out when their gateway died), and
    only then is anything deleted; so no turn writes a message or a tracker event back.
    Messages that arrive meanwhile wait in the inbox, and are erased with the rest.
    """

    def __init__(self, engine: Engine, *, wait_s: float = 90.0, poll_s: float = 0.2) -> None:
        """Wait at most ``wait_s`` seconds for turns in flight (longer than the inbox lease)."""
        self._sessions = session_factory(engine)
        self._wait_s = wait_s
        self._poll_s = poll_s

    @contextlib.asynccontextmanager
    async def hold(self, conversation_ids: Sequence[str]) -> AsyncIterator[None]:
        """No turn runs in these conversations while the block runs.

        Raises:
            ErasureBlocked: a turn was still in flight after ``wait_s`` (nothing was erased).
        """
        ids = sorted(set(conversation_ids))
        await asyncio.to_thread(self._mark, ids)
        try:
            await self._wait_for_turns_in_flight(ids)
            yield
        finally:
            await asyncio.to_thread(self._release, ids)

    def _mark(self, ids: list[str]) -> None:
        with self._sessions.begin() as session:
            erasing = set(
                session.execute(select(Erasure.conversation_id).where(Erasure.conversation_id.in_(ids))).scalars()
            )
            session.add_all(Erasure(conversation_id=cid, started_at=utcnow()) for cid in ids if cid not in erasing)

    def _release(self, ids: list[str]) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(Erasure).where(Erasure.conversation_id.in_(ids)))

    def _in_flight(self, ids: list[str]) -> int:
        with self._sessions() as session:
            return int(
                session.execute(
                    select(func.count(InboxItem.id)).where(
                        InboxItem.conversation_id.in_(ids),
                        InboxItem.state.in_(OPEN_STATES),
                        InboxItem.lease_until.isnot(None),
                        InboxItem.lease_until > utcnow(),
                    )
                ).scalar_one()
            )

    async def _wait_for_turns_in_flight(self, ids: list[str]) -> None:
        deadline = asyncio.get_running_loop().time() + self._wait_s
        while ids and (await asyncio.to_thread(self._in_flight, ids)) > 0:
            if asyncio.get_running_loop().time() > deadline:
                raise ErasureBlocked("a turn is still running in a conversation to erase; try again")
            await asyncio.sleep(self._poll_s)
