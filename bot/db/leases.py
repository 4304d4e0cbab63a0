"""Coordination between gateway replicas through the database they share.

:class:`ReplicaLeases`: work exactly one replica does at a time (the handoff timers, Telegram
long polling). A replica holds a named lease until a time and renews it while it works; when it
dies, another takes the lease once that time has passed. Taking and renewing are one
conditional ``UPDATE`` (or the first ``INSERT``), so two replicas never both hold one.

:class:`LeasedLoop`: a background loop that one replica at a time runs, under a lease.

:class:`SeenEvents`: a platform event handled once whichever replica it reaches (Slack retries
an event it thinks was lost, and a load balancer may hand the retry to another replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.db.engine import session_factory
from bot.db.models import ReplicaLease, SeenEvent, utcnow

_LOGGER = logging.getLogger(__name__)


class ReplicaLeases:
    """Named leases held by ``owner`` (this replica's id)."""

    def __init__(self, engine: Engine, owner: str) -> None:
        """Take and renew leases in ``engine``'s database as ``owner``."""
        self._sessions = session_factory(engine)
        self.owner = owner

    def hold(self, name: str, ttl_s: float) -> bool:
        """Take or renew lease ``name`` for ``ttl_s`` seconds; ``False`` while another replica holds it."""
        now = utcnow()
        until = now + dt.timedelta(seconds=ttl_s)
        with self._sessions.begin() as session:
            taken = session.execute(
                update(ReplicaLease)
                .where(ReplicaLease.name == name)
                .where((ReplicaLease.owner == self.owner) | (ReplicaLease.until < now))
                .values(owner=self.owner, until=until)
                .execution_options(synchronize_session=False)
            ).rowcount
        if taken == 1:
            return True
        try:
            with self._sessions.begin() as session:
                session.execute(insert(ReplicaLease).values(name=name, owner=self.owner, until=until))
        except IntegrityError:
            return False  # another replica holds it (or took it first just now)
        _LOGGER.info("lease.taken name=%s owner=%s", name, self.owner)
        return True

    def release(self, name: str) -> None:
        """Give lease ``name`` up at once (a clean stop), if this replica holds it."""
        with self._sessions.begin() as session:
            session.execute(delete(ReplicaLease).where(ReplicaLease.name == name, ReplicaLease.owner == self.owner))


class SeenEvents:
    """Platform events already handled, per ``source``; rows older than ``keep`` are purged."""

    def __init__(self, engine: Engine, source: str, keep: dt.timedelta = dt.timedelta(days=2)) -> None:
        """Remember ``source``'s event ids in ``engine``'s database for ``keep``."""
        self._sessions = session_factory(engine)
        self._source = source
        self._keep = keep
        self._since_purge = 0

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``; ``False`` when some replica recorded it before."""
        try:
            with self._sessions.begin() as session:
                session.execute(
                    insert(SeenEvent).values(source=self._source, event_id=event_id[:120], seen_at=utcnow())
                )
        except IntegrityError:
            return False
        self._since_purge += 1
        if self._since_purge >= 500:
            self._since_purge = 0
            with self._sessions.begin() as session:
                session.execute(
                    delete(SeenEvent).where(SeenEvent.source == self._source, SeenEvent.seen_at < utcnow() - self._keep)
                )
        return True


class LeasedLoop:
    """Runs ``step`` every ``interval_s`` seconds, while this replica holds lease ``name`` (always without leases).

    The lease lasts three intervals, so another replica takes over within that long of the
    holder's death. A failing step is logged as ``failure`` and tried again next time.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        *,
        interval_s: float,
        leases: ReplicaLeases | None,
        failure: str,
    ) -> None:
        """Run ``step`` under lease ``name`` of ``leases``."""
        self._name = name
        self._step = step
        self._interval_s = interval_s
        self._leases = leases
        self._failure = failure

    async def run(self) -> None:
        """Step forever (cancel to stop)."""
        while True:
            try:
                if self._leases is None or await asyncio.to_thread(self._leases.hold, self._name, self._interval_s * 3):
                    await self._step()
            except Exception:
                _LOGGER.exception(self._failure)
            await asyncio.sleep(self._interval_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run in the background for the duration of the block; release the lease after."""
        task = asyncio.create_task(self.run(), name=self._name)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self._leases is not None:
                with contextlib.suppress(Exception):  # unreleased, it runs out by itself
                    await asyncio.to_thread(self._leases.release, self._name)
