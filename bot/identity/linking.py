"""Account linking: prove a channel identity owns a customer account with a one-time email code.

The customer gives an email address; if it is on file, a 6-digit code goes to that
address. Typing the code on the same channel identity links it to the customer. The
service never reveals whether an address is on file: an unknown address gets the same
answer and a stored code that can never match, and nothing is sent.

Limits: a code is valid for 10 minutes and once; a new code replaces the earlier ones;
at most 3 codes per identity per 10 minutes; 5 wrong codes within 15 minutes lock the
identity for 15 minutes (even the right code is refused then). Only an HMAC of each
code, keyed with ``BOT_IDENTITY_SECRET`` and bound to the identity, is stored. Logs
name identities by a keyed hash; never an address, a code or a customer id.

The methods are synchronous (one short transaction each); async callers use
:func:`asyncio.to_thread`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db.engine import session_factory
from bot.db.models import ChannelIdentity, LinkCode, LinkFailure, utcnow
from bot.identity.links import DEFAULT_IDLE, current_link
from bot.identity.mailer import Mailer, MailError
from bot.identity.texts import LinkTexts

_LOGGER = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=10)
MAX_CODES_PER_WINDOW = 3
"""Codes one identity may request per :data:`SEND_WINDOW` (stops mail bombing from one chat)."""
SEND_WINDOW = dt.timedelta(minutes=10)
MAX_CODES_PER_CUSTOMER = 6
"""Emails one customer may receive per :data:`SEND_WINDOW` across all identities (stops bombing from many chats)."""
MAX_WRONG_TRIES = 5
LOCK_DURATION = dt.timedelta(minutes=15)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(rf"^\d{{{CODE_DIGITS}}}$")
_CODE_NOISE = re.compile(r"[\s\-\u2010-\u2015]")

StartStatus = Literal["sent", "too_many", "locked", "invalid_email"]
VerifyStatus = Literal["linked", "wrong", "expired", "no_code", "locked", "invalid"]


@dataclass(frozen=True)
class LinkStart:
    """What :meth:`LinkingService.start` did, as the customer may be told.

    Attributes:
        status: ``sent`` (a code is on its way if the address is on file; say so in those
            words), ``too_many`` (send cap reached, retry after ``locked_until``),
            ``locked`` (too many wrong codes, retry after ``locked_until``) or
            ``invalid_email`` (the text is not an email address; nothing stored).
        locked_until: UTC (naive) time when a new code may be requested, for ``too_many`` and ``locked``.
        minutes_valid: How long a sent code is valid.
    """

    status: StartStatus
    locked_until: dt.datetime | None = None
    minutes_valid: int = int(CODE_TTL.total_seconds() // 60)

    def wait_minutes(self, now: dt.datetime) -> int:
        """Whole minutes (at least 1) until ``locked_until``, for a "try again in N minutes" text."""
        return _minutes_until(self.locked_until, now)


@dataclass(frozen=True)
class LinkResult:
    """What :meth:`LinkingService.verify` did.

    Attributes:
        status: ``linked``; ``wrong`` (``tries_left`` more before the lock); ``expired``
            (ask for a new code); ``no_code`` (no usable code: never requested, already
            used or replaced); ``locked`` (too many wrong codes, until ``locked_until``;
            also returned for the wrong code that triggers the lock); ``invalid`` (the
            input is not 6 digits; not counted as a try).
        customer_id: The linked customer, for ``linked`` only.
        tries_left: Wrong codes still allowed before the lock.
        locked_until: UTC (naive) end of the lock, for ``locked``.
    """

    status: VerifyStatus
    customer_id: str | None = None
    tries_left: int = MAX_WRONG_TRIES
    locked_until: dt.datetime | None = None

    def wait_minutes(self, now: dt.datetime) -> int:
        """Whole minutes (at least 1) until ``locked_until``."""
        return _minutes_until(self.locked_until, now)


def _minutes_until(until: dt.datetime | None, now: dt.datetime) -> int:
    if until is None:
        return 0
    seconds = (until - now).total_seconds()
    return max(1, -int(-seconds // 60))


def normalize_code(raw: str) -> str | None:
    """Return the 6 digits of a typed code (spaces and dashes removed), or None when it is not one."""
    cleaned = _CODE_NOISE.sub("", raw or "")
    return cleaned if _CODE.match(cleaned) and cleaned.isascii() else None


class LinkingService:
    """Link channel identities to customers by a one-time code sent to the address on file.

    Args:
        engine: The bot's database (migrated to 0002 or later).
        secret: ``BOT_IDENTITY_SECRET``; keys the code hashes and the identity hashes in logs.
        mailer: Sends the code email.
        lookup_email: Address to customer id, or None when it is not on file.
        now: Clock returning naive UTC (tests inject one).
        texts: The email's wording.
    """

    def __init__(
        self,
        engine: Engine,
        secret: str,
        mailer: Mailer,
        lookup_email: Callable[[str], str | None],
        *,
        now: Callable[[], dt.datetime] = utcnow,
        texts: LinkTexts,
        link_idle: dt.timedelta = DEFAULT_IDLE,
    ) -> None:
        if not secret:
            raise ValueError("the identity secret must not be empty")
        self._sessions = session_factory(engine)
        self._secret = secret.encode("utf-8")
        self._mailer = mailer
        self._lookup_email = lookup_email
        self._now = now
        self._texts = texts
        self._link_idle = link_idle

    # -- public API -------------------------------------------------------------------------

    def start(self, channel: str, external_id: str, email: str) -> LinkStart:
        """Send a one-time code to ``email`` if it is on file; answer the same either way.

        Replaces any earlier unused code of this identity.
        """
        who = self._identity_hash(channel, external_id)
        address = (email or "").strip()
        if len(address) > 320 or not _EMAIL.match(address):
            _LOGGER.info("identity.code_refused identity=%s reason=invalid_email", who)
            return LinkStart("invalid_email")
        customer_id = self._lookup_email(address)
        now = self._now()
        with self._sessions() as session, session.begin():
            locked_until = self._locked_until(session, channel, external_id, now)
            if locked_until is not None:
                _LOGGER.info("identity.code_refused identity=%s reason=locked", who)
                return LinkStart("locked", locked_until=locked_until)
            recent = session.scalars(
                select(LinkCode.created_at)
                .where(*_identity(LinkCode, channel, external_id), LinkCode.created_at > now - SEND_WINDOW)
                .order_by(LinkCode.created_at)
            ).all()
            if len(recent) >= MAX_CODES_PER_WINDOW:
                _LOGGER.info("identity.code_refused identity=%s reason=too_many", who)
                return LinkStart("too_many", locked_until=recent[-MAX_CODES_PER_WINDOW] + SEND_WINDOW)
            if customer_id is not None and self._customer_flooded(session, customer_id, now):
                _LOGGER.warning("identity.code_suppressed identity=%s reason=customer_cap", who)
                customer_id = None  # a code that can never match; the answer stays the same
            session.execute(
                update(LinkCode)
                .where(
                    *_identity(LinkCode, channel, external_id), LinkCode.used_at.is_(None), LinkCode.expires_at > now
                )
                .values(expires_at=now)
            )
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            session.add(
                LinkCode(
                    channel=channel,
                    external_id=external_id,
                    customer_id=customer_id,
                    code_hash=self._code_hash(channel, external_id, code),
                    expires_at=now + CODE_TTL,
                    created_at=now,
                )
            )
        if customer_id is None:
            _LOGGER.info("identity.code_started identity=%s", who)
            return LinkStart("sent")
        subject, body = self._texts.code_email(code, int(CODE_TTL.total_seconds() // 60))
        try:
            self._mailer.send(address, subject, body)
        except MailError as exc:
            # Telling the customer would reveal the address is on file; the failure is logged
            # for the operators and the customer can ask for a new code.
            _LOGGER.error("identity.code_mail_failed identity=%s error=%s", who, exc)
        else:
            _LOGGER.info("identity.code_started identity=%s", who)
        return LinkStart("sent")

    def verify(self, channel: str, external_id: str, code: str) -> LinkResult:
        """Check a typed code; on success link the identity to the code's customer."""
        who = self._identity_hash(channel, external_id)
        now = self._now()
        with self._sessions() as session, session.begin():
            locked_until = self._locked_until(session, channel, external_id, now)
            if locked_until is not None:
                _LOGGER.info("identity.verify identity=%s outcome=locked", who)
                return LinkResult("locked", tries_left=0, locked_until=locked_until)
            tries_left = MAX_WRONG_TRIES - self._recent_failures(session, channel, external_id, now)
            digits = normalize_code(code)
            if digits is None:
                _LOGGER.info("identity.verify identity=%s outcome=invalid", who)
                return LinkResult("invalid", tries_left=tries_left)
            row = session.scalars(
                select(LinkCode)
                .where(*_identity(LinkCode, channel, external_id), LinkCode.used_at.is_(None))
                .order_by(LinkCode.id.desc())
                .limit(1)
            ).first()
            if row is None:
                _LOGGER.info("identity.verify identity=%s outcome=no_code", who)
                return LinkResult("no_code", tries_left=tries_left)
            if row.expires_at <= now:
                _LOGGER.info("identity.verify identity=%s outcome=expired", who)
                return LinkResult("expired", tries_left=tries_left)
            matches = hmac.compare_digest(row.code_hash, self._code_hash(channel, external_id, digits))
            if not matches or row.customer_id is None:
                session.add(LinkFailure(channel=channel, external_id=external_id, at=now))
                tries_left -= 1
                if tries_left <= 0:
                    _LOGGER.warning("identity.locked identity=%s", who)
                    return LinkResult("locked", tries_left=0, locked_until=now + LOCK_DURATION)
                _LOGGER.info("identity.verify identity=%s outcome=wrong tries_left=%d", who, tries_left)
                return LinkResult("wrong", tries_left=tries_left)
            # Single use even under concurrency: only one transaction can flip used_at.
            claimed = session.execute(
                update(LinkCode).where(LinkCode.id == row.id, LinkCode.used_at.is_(None)).values(used_at=now)
            )
            if claimed.rowcount != 1:
                return LinkResult("no_code", tries_left=tries_left)
            customer_id = str(row.customer_id)
            session.execute(delete(LinkFailure).where(*_identity(LinkFailure, channel, external_id)))
            identity = session.scalars(
                select(ChannelIdentity).where(*_identity(ChannelIdentity, channel, external_id))
            ).first()
            if identity is None:
                session.add(
                    ChannelIdentity(channel=channel, external_id=external_id, customer_id=customer_id, linked_at=now)
                )
            else:
                identity.customer_id = customer_id
                identity.linked_at = now
        _LOGGER.info("identity.linked identity=%s", who)
        return LinkResult("linked", customer_id=customer_id, tries_left=MAX_WRONG_TRIES)

    def linked_customer(self, channel: str, external_id: str) -> str | None:
        """The customer this channel identity is linked to, or None (a link idle too long has expired)."""
        with self._sessions() as session, session.begin():
            return current_link(session, channel, external_id, idle=self._link_idle, now=self._now())

    def unlink(self, channel: str, external_id: str) -> bool:
        """Forget the link of this channel identity; True when there was one."""
        with self._sessions() as session, session.begin():
            result = session.execute(
                update(ChannelIdentity)
                .where(*_identity(ChannelIdentity, channel, external_id), ChannelIdentity.customer_id.is_not(None))
                .values(customer_id=None, linked_at=None)
            )
            unlinked = bool(result.rowcount)
        if unlinked:
            _LOGGER.info("identity.unlinked identity=%s", self._identity_hash(channel, external_id))
        return unlinked

    # -- internals --------------------------------------------------------------------------

    def _identity_hash(self, channel: str, external_id: str) -> str:
        """A short keyed hash that names an identity in logs without revealing it."""
        digest = hmac.new(self._secret, f"identity\x1f{channel}\x1f{external_id}".encode(), hashlib.sha256)
        return f"{channel}:{digest.hexdigest()[:12]}"

    def _code_hash(self, channel: str, external_id: str, code: str) -> str:
        """HMAC-SHA256 of a code bound to the identity it was issued for (hex, 64 chars)."""
        message = f"link-code\x1f{channel}\x1f{external_id}\x1f{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _recent_failures(session: Session, channel: str, external_id: str, now: dt.datetime) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(LinkFailure)
                .where(*_identity(LinkFailure, channel, external_id), LinkFailure.at > now - LOCK_DURATION)
            )
            or 0
        )

    @staticmethod
    def _locked_until(session: Session, channel: str, external_id: str, now: dt.datetime) -> dt.datetime | None:
        """End of the lock if 5 wrong codes within 15 minutes ended less than 15 minutes ago."""
        times = session.scalars(
            select(LinkFailure.at)
            .where(*_identity(LinkFailure, channel, external_id), LinkFailure.at > now - 2 * LOCK_DURATION)
            .order_by(LinkFailure.at)
        ).all()
        ends = [
            times[i + MAX_WRONG_TRIES - 1] + LOCK_DURATION
            for i in range(len(times) - MAX_WRONG_TRIES + 1)
            if times[i + MAX_WRONG_TRIES - 1] - times[i] <= LOCK_DURATION
        ]
        until = max(ends, default=None)
        return until if until is not None and until > now else None

    @staticmethod
    def _customer_flooded(session: Session, customer_id: str, now: dt.datetime) -> bool:
        sent = session.scalar(
            select(func.count())
            .select_from(LinkCode)
            .where(LinkCode.customer_id == customer_id, LinkCode.created_at > now - SEND_WINDOW)
        )
        return int(sent or 0) >= MAX_CODES_PER_CUSTOMER


def _identity(
    model: type[LinkCode] | type[LinkFailure] | type[ChannelIdentity], channel: str, external_id: str
) -> tuple:
    """WHERE clauses selecting one channel identity's rows of ``model``."""
    return (model.channel == channel, model.external_id == external_id)
