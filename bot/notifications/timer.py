"""The gateway's loop that sends order updates once they are due (after a customer's quiet hours).

It also sends a notification whose first attempt failed half-way (recorded, not yet stored as a
message): every state it needs is in the database, so it survives restarts. With several
replicas only the holder of the ``notifications`` lease runs it; sending is safe without it too
(a notification's message is stored once, see :mod:`bot.notifications.orders`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from bot.db.leases import LeasedLoop, ReplicaLeases
from bot.notifications.orders import OrderNotifications

_LOGGER = logging.getLogger(__name__)

#: The lease of the replica that sends due notifications.
LEASE = "notifications"


class NotificationTimer:
    """Sends due notifications every ``interval_s`` seconds."""

    def __init__(
        self, notifications: OrderNotifications, *, interval_s: float = 5.0, leases: ReplicaLeases | None = None
    ) -> None:
        """Send ``notifications``' due rows; with ``leases``, only while this replica holds the lease."""
        self._notifications = notifications
        self._interval_s = interval_s
        self._leases = leases

    async def _send_due(self) -> None:
        sent = await self._notifications.send_due()
        if sent:
            _LOGGER.info("notifications.round sent=%d", len(sent))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[NotificationTimer]:
        """Run in the background for the duration of the block."""
        loop = LeasedLoop(
            LEASE,
            self._send_due,
            interval_s=self._interval_s,
            leases=self._leases,
            failure="notifications.round_failed",
        )
        async with loop.running():
            yield self
