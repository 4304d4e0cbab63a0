"""Coordination between gateway replicas through the database they share.

:class:`ReplicaLeases`: work exactly one replica does at a time (the handoff timers, Telegram
long polling). A replica holds a named lease until a time and renews it while it works; when it
dies, another takes the lease once that time has passed. Taking and renewing are one
conditional ``UPDATE`` (or the first ``INSERT``), so two replicas never both hold one.

:class:`SeenEvents`: a platform event handled once whichever replica it reaches (Slack retries
an event it thinks was lost, and a load balancer may hand the retry to another replica).
"""

from __future__ import annotations

import datetime as dt
import logging

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
