"""What a customer opted into: order updates in their linked chat, and the hours they want none.

Off by default. The company's site sets them for a signed-in customer
(``PUT /api/v1/customers/{id}/notifications``), an operator with ``python -m bot notifications``,
and a customer from a linked Telegram chat with ``/notify on`` or ``/notify off``.

Quiet hours are two local times in the customer's IANA timezone; ``22:00``-``07:00`` spans
midnight. A notification that falls due inside them waits until they end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, replace

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.engine import session_factory
from bot.db.models import Customer, NotificationSetting, utcnow
from bot.identity.links import DEFAULT_IDLE, current_link

_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
#: Longest IANA timezone name accepted (the column's size).
MAX_TIMEZONE = 64


class PreferenceError(ValueError):
    """A setting is malformed (the message says which and how, never whose)."""


class UnknownCustomer(LookupError):
    """No customer with that id."""


def parse_time(value: object, name: str) -> dt.time:
    """``"HH:MM"`` (24-hour) as a time.

    Raises:
        PreferenceError: ``value`` is not such a string.
    """
    found = _TIME.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise PreferenceError(f"{name} must be a time as HH:MM (00:00-23:59)")
    return dt.time(int(found.group(1)), int(found.group(2)))


def check_timezone(value: object) -> str:
    """An IANA timezone name (``Europe/Berlin``, ``UTC``).

    Raises:
        PreferenceError: ``value`` names no timezone.
    """
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TIMEZONE or value.startswith(("/", ".")):
        raise PreferenceError("timezone must be an IANA timezone name such as Europe/Berlin")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise PreferenceError("timezone must be an IANA timezone name such as Europe/Berlin") from None
    return value


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` local time (``end`` before ``start``: across midnight)."""

    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        """An empty span is no span."""
        if self.start == self.end:
            raise PreferenceError("quiet_hours start and end must differ")

    def contains(self, moment: dt.time) -> bool:
        """Whether the local time ``moment`` is quiet."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def to_json(self) -> dict[str, str]:
        """``{"start": "HH:MM", "end": "HH:MM"}``."""
        return {"start": f"{self.start:%H:%M}", "end": f"{self.end:%H:%M}"}


@dataclass(frozen=True)
class Preferences:
    """One customer's notification settings."""

    customer_id: str
    order_updates: bool = False
    quiet_hours: QuietHours | None = None
    timezone: str = "UTC"

    def due_at(self, now: dt.datetime) -> dt.datetime:
        """When a notification arising at ``now`` (naive UTC) may be sent (naive UTC): now, or when quiet hours end."""
        if self.quiet_hours is None:
            return now
        zone = zoneinfo.ZoneInfo(self.timezone)
        local = now.replace(tzinfo=dt.timezone.utc).astimezone(zone)
        if not self.quiet_hours.contains(local.time()):
            return now
        day = local.date() if local.time() < self.quiet_hours.end else local.date() + dt.timedelta(days=1)
        ends = dt.datetime.combine(day, self.quiet_hours.end, tzinfo=zone)
        return ends.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def to_json(self) -> dict[str, object]:
        """The API's view (docs/api.md)."""
        return {
            "customer_id": self.customer_id,
            "order_updates": self.order_updates,
            "quiet_hours": self.quiet_hours.to_json() if self.quiet_hours else None,
            "timezone": self.timezone,
        }


def from_row(customer_id: str, row: NotificationSetting | None) -> Preferences:
    """A stored settings row (``None``: never set) as :class:`Preferences`."""
    if row is None:
        return Preferences(customer_id)
    quiet = None
    if row.quiet_start and row.quiet_end:
        quiet = QuietHours(parse_time(row.quiet_start, "quiet_start"), parse_time(row.quiet_end, "quiet_end"))
    return Preferences(customer_id, bool(row.order_updates), quiet, str(row.timezone or "UTC"))


class PreferenceStore:
    """Reads and writes ``customer_notification_settings`` (off the event loop)."""

    def __init__(self, engine: Engine, *, link_idle: dt.timedelta = DEFAULT_IDLE) -> None:
        """Keep settings in ``engine``'s database; a chat idle longer than ``link_idle`` is no longer linked."""
        self._sessions = session_factory(engine)
        self._link_idle = link_idle

    async def get(self, customer_id: str) -> Preferences:
        """The customer's settings (all off when never set).

        Raises:
            UnknownCustomer: no such customer.
        """

        def load() -> Preferences:
            with self._sessions() as session:
                if session.get(Customer, customer_id) is None:
                    raise UnknownCustomer(customer_id)
                return from_row(customer_id, session.get(NotificationSetting, customer_id))

        return await asyncio.to_thread(load)

    async def put(self, preferences: Preferences) -> Preferences:
        """Store the customer's settings as given.

        Raises:
            UnknownCustomer: no such customer.
        """
        check_timezone(preferences.timezone)

        def write() -> Preferences:
            with self._sessions.begin() as session:
                if session.get(Customer, preferences.customer_id) is None:
                    raise UnknownCustomer(preferences.customer_id)
                self._write(session, preferences)
            return preferences

        try:
            return await asyncio.to_thread(write)
        except IntegrityError:  # a concurrent first write created the row: this one updates it
            return await asyncio.to_thread(write)

    async def set_from_chat(self, channel: str, external_id: str, order_updates: bool) -> Preferences | None:
        """Turn order updates on or off for the customer a chat is linked to; ``None`` when it is linked to no one."""

        def write() -> Preferences | None:
            with self._sessions.begin() as session:
                customer_id = current_link(session, channel, external_id, idle=self._link_idle, now=utcnow())
                if customer_id is None:
                    return None
                current = from_row(customer_id, session.get(NotificationSetting, customer_id))
                wanted = replace(current, order_updates=order_updates)
                self._write(session, wanted)
                return wanted

        return await asyncio.to_thread(write)

    @staticmethod
    def _write(session: Session, preferences: Preferences) -> None:
        row = session.get(NotificationSetting, preferences.customer_id)
        if row is None:
            row = NotificationSetting(customer_id=preferences.customer_id)
            session.add(row)
        quiet = preferences.quiet_hours.to_json() if preferences.quiet_hours else None
        row.order_updates = preferences.order_updates
        row.quiet_start = quiet["start"] if quiet else None
        row.quiet_end = quiet["end"] if quiet else None
        row.timezone = preferences.timezone
        row.updated_at = utcnow()
