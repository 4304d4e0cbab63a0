"""Who is writing: the verified customer behind a message, decided by the gateway only.

A message is verified by a signed customer token from the host site (web widget, direct
API) or by a channel identity linked earlier with an emailed code. Anything else —
a missing, forged or expired token, an unlinked chat — is anonymous. The result travels to
the dialogue as a turn token in the message metadata (``bot/identity/turns.py``), which the
resolver signs; slots, message text and unsigned metadata never carry identity.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import ChannelIdentity, Customer, utcnow
from bot.identity.links import DEFAULT_IDLE, current_link
from bot.identity.tokens import verify_customer_token
from bot.identity.turns import METADATA_KEY, TurnIdentity, mint_turn_token

_LOGGER = logging.getLogger(__name__)


#: Whether a chat is linked to a customer at all (built once; docs/performance.md).
_LINKED = select(ChannelIdentity.id).where(
    ChannelIdentity.channel == bindparam("channel"),
    ChannelIdentity.external_id == bindparam("user"),
    ChannelIdentity.customer_id.isnot(None),
)


@dataclass(frozen=True)
class Identity:
    """The verified customer (``None`` when anonymous) and how they were verified."""

    customer_id: str | None = None
    verified_by: str | None = None  # "token" or "link"


ANONYMOUS = Identity()


class IdentityResolver:
    """Resolves a message's identity from its customer token or its channel identity's link."""

    def __init__(
        self, engine: Engine, secret: str, *, turn_secret: str = "", link_idle: dt.timedelta = DEFAULT_IDLE
    ) -> None:
        """Check tokens with ``secret`` (``BOT_IDENTITY_SECRET``) and links in ``engine`` (idle ones expire).

        ``turn_secret`` (``BOT_TURN_SECRET``) signs what the resolver vouches for to the
        action server (:meth:`vouch`); without it no message carries an identity there.
        """
        self._engine = engine
        self._sessions = session_factory(engine)
        self._secret = secret
        self._turn_secret = turn_secret
        self._link_idle = link_idle

    def vouch(
        self, identity: Identity, *, conversation_id: str, channel: str, channel_user: str, turn: str | None
    ) -> dict[str, str]:
        """The metadata entry that tells the action server who wrote this message: a signed turn token.

        Empty without a turn secret: the actions then treat the message as anonymous.
        """
        if not self._turn_secret:
            return {}
        vouched = TurnIdentity(
            conversation_id=conversation_id,
            channel=channel,
            channel_user=channel_user,
            customer_id=identity.customer_id,
            verified_by=identity.verified_by,
            turn=turn,
        )
        return {METADATA_KEY: mint_turn_token(vouched, self._turn_secret)}

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
        with self._engine.connect() as connection:  # most chats are linked to no one: one cheap read says so
            if connection.execute(_LINKED, {"channel": channel, "user": channel_user}).first() is None:
                return None
        with self._sessions.begin() as session:
            return current_link(session, channel, channel_user, idle=self._link_idle, now=utcnow())
