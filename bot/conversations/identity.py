"""Who is writing: the verified customer behind a message, decided by the gateway only.

A message is verified by a signed customer token from the host site (web widget, direct
API) or by a channel identity linked earlier with an emailed code. Anything else —
a missing, forged or expired token, an unlinked chat — is anonymous. The result travels to
the dialogue as message metadata; slots and message text never carry identity.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import ChannelIdentity, Customer
from bot.identity.tokens import verify_customer_token

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """The verified customer (``None`` when anonymous) and how they were verified."""

    customer_id: str | None = None
    verified_by: str | None = None  # "token" or "link"


ANONYMOUS = Identity()


class IdentityResolver:
    """Resolves a message's identity from its customer token or its channel identity's link."""

    def __init__(self, engine: Engine, secret: str) -> None:
        """Check tokens with ``secret`` (``BOT_IDENTITY_SECRET``) and links in ``engine``."""
        self._sessions = session_factory(engine)
        self._secret = secret

    async def resolve(self, channel: str, channel_user: str, customer_token: str | None) -> Identity:
        """Return the verified customer for this message, or :data:`ANONYMOUS`."""
        if customer_token:
            customer_id = verify_customer_token(customer_token, self._secret)
            if customer_id is not None and await asyncio.to_thread(self._exists, customer_id):
                return Identity(customer_id, "token")
            _LOGGER.info("identity.token_rejected channel=%s", channel)
        linked = await asyncio.to_thread(self._linked, channel, channel_user)
        return Identity(linked, "link") if linked else ANONYMOUS

    def _exists(self, customer_id: str) -> bool:
        with self._sessions() as session:
            return session.get(Customer, customer_id) is not None

    def _linked(self, channel: str, channel_user: str) -> str | None:
        with self._sessions() as session:
            found = session.execute(
                select(ChannelIdentity.customer_id).where(
                    ChannelIdentity.channel == channel,
                    ChannelIdentity.external_id == channel_user,
                    ChannelIdentity.customer_id.isnot(None),
                )
            ).scalar_one_or_none()
        return str(found) if found else None
