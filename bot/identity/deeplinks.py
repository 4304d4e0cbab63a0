"""Account linking by a Telegram deep link: ``https://t.me/<bot>?start=<token>``.

The company's site, where the customer is signed in, asks the gateway for a token
(``POST /api/v1/deep-links`` with the API token, or ``python -m bot telegram deep-link ID``) and
shows the link. Opening it sends ``/start <token>`` from the customer's Telegram account; the
gateway redeems the token once and links that Telegram user to the customer. Tokens are random
(32 characters, within Telegram's 64-character limit), stored only as a keyed hash, valid for
15 minutes and single use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import ChannelIdentity, Customer, DeepLink, utcnow

_LOGGER = logging.getLogger(__name__)

TOKEN_TTL = dt.timedelta(minutes=15)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


class UnknownCustomer(LookupError):
    """No customer with that id."""


@dataclass(frozen=True)
class MintedLink:
    """A fresh deep-link token and when it stops working."""

    token: str
    expires_at: dt.datetime


class DeepLinks:
    """Mints and redeems one-time deep-link tokens."""

    def __init__(self, engine: Engine, secret: str) -> None:
        """Hash tokens with ``secret`` (``BOT_IDENTITY_SECRET``)."""
        if not secret:
            raise ValueError("the identity secret must not be empty")
        self._sessions = session_factory(engine)
        self._secret = secret.encode("utf-8")

    def _hash(self, token: str) -> str:
        return hmac.new(self._secret, f"deep-link\x1f{token}".encode(), hashlib.sha256).hexdigest()

    def mint(self, customer_id: str) -> MintedLink:
        """A new token for ``customer_id``.

        Raises:
            UnknownCustomer: no customer with that id.
        """
        token = secrets.token_urlsafe(24)  # 32 characters of A-Z a-z 0-9 _ -
        now = utcnow()
        with self._sessions.begin() as session:
            if session.get(Customer, customer_id) is None:
                raise UnknownCustomer(customer_id)
            session.add(DeepLink(token_hash=self._hash(token), customer_id=customer_id, expires_at=now + TOKEN_TTL))
        return MintedLink(token, now + TOKEN_TTL)

    def redeem(self, token: str, channel: str, external_id: str) -> str | None:
        """Link ``(channel, external_id)`` to the token's customer; the customer id, or ``None``.

        ``None`` for a malformed, unknown, expired or already used token (the caller says the
        same for all of them).
        """
        if not _TOKEN.fullmatch(token or ""):
            return None
        now = utcnow()
        with self._sessions.begin() as session:
            row = session.scalars(select(DeepLink).where(DeepLink.token_hash == self._hash(token))).first()
            if row is None or row.used_at is not None or row.expires_at <= now:
                _LOGGER.info("identity.deep_link outcome=refused channel=%s", channel)
                return None
            claimed = session.execute(
                update(DeepLink).where(DeepLink.id == row.id, DeepLink.used_at.is_(None)).values(used_at=now)
            )
            if claimed.rowcount != 1:
                return None
            customer_id = str(row.customer_id)
            identity = session.scalars(
                select(ChannelIdentity).where(
                    ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
                )
            ).first()
            if identity is None:
                session.add(
                    ChannelIdentity(channel=channel, external_id=external_id, customer_id=customer_id, linked_at=now)
                )
            else:
                identity.customer_id = customer_id
                identity.linked_at = now
        _LOGGER.info("identity.deep_link outcome=linked channel=%s", channel)
        return customer_id
