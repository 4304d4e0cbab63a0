"""A verified customer's new email address or phone number, proven by a code sent to it first.

:meth:`ContactVerification.start` stores the new value with an HMAC of a 6-digit code and
sends the code to the new address (email) or number (SMS); :meth:`verify` returns the value
once the right code is typed, and the caller changes the record (the records backend's
``update_contact``). A code is valid for 10 minutes and once; a new one replaces the earlier
ones; 3 codes per customer per 10 minutes; 5 wrong codes void it. Logs never name the value
or the code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import ContactChange, utcnow
from bot.identity.linking import normalize_code
from bot.identity.mailer import Mailer, MailError
from bot.records.backend import check_contact
from bot.texts import read_templates

_LOGGER = logging.getLogger(__name__)

CODE_TTL = dt.timedelta(minutes=10)
MAX_CODES_PER_WINDOW = 3
MAX_WRONG_TRIES = 5

StartStatus = Literal["sent", "invalid", "too_many", "send_failed"]
VerifyStatus = Literal["ok", "wrong", "expired", "invalid"]

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "email_subject": frozenset(),
    "email_body": frozenset({"code", "minutes"}),
    "sms_body": frozenset({"code", "minutes"}),
}
"""Every key of the ``contact:`` mapping of ``data/texts.yml`` and its placeholders."""


class SmsError(RuntimeError):
    """The SMS could not be handed over."""


class SmsSender(Protocol):
    """Sends a text message to a phone number."""

    def send(self, to: str, body: str) -> None:
        """Send ``body`` to ``to`` (digits with a leading '+'); raises :class:`SmsError`."""


class SmsFolder:
    """Development only: writes each SMS as a file (mode 0600) under ``var/sms`` instead of sending it.

    A company plugs its SMS gateway in here (a class with the same ``send``).
    """

    def __init__(self, folder: Path) -> None:
        """Write messages into ``folder`` (created on first use)."""
        self.folder = folder

    def send(self, to: str, body: str) -> None:
        """Store the message as ``<time>-<random>.sms`` (first line ``To: <number>``)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}.sms"
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
                out.write(f"To: {to}\n\n{body}\n")
        except OSError as exc:
            raise SmsError(f"cannot write to the SMS folder: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class ContactTexts:
    """Wording of the code messages."""

    email_subject: str
    email_body: str
    sms_body: str


def load_contact_texts(path: Path) -> ContactTexts:
    """Read the ``contact:`` mapping of ``texts.yml`` (raises TextsError naming the problem)."""
    return ContactTexts(**read_templates(path, "contact", PLACEHOLDERS))


@dataclass(frozen=True)
class Verified:
    """What :meth:`ContactVerification.verify` found: ``ok`` (then :meth:`~ContactVerification.take` it), or why not."""

    status: VerifyStatus
    kind: str | None = None
    value: str | None = None
    tries_left: int = 0


class ContactVerification:
    """Codes proving that a customer receives mail (or SMS) at a new address (or number)."""

    def __init__(
        self,
        engine: Engine,
        secret: str,
        mailer: Mailer,
        sms: SmsSender,
        texts: ContactTexts,
        *,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """Codes are keyed with ``secret`` (``BOT_IDENTITY_SECRET``); ``now`` returns naive UTC."""
        if not secret:
            raise ValueError("the identity secret must not be empty")
        self._sessions = session_factory(engine)
        self._secret = secret.encode("utf-8")
        self._mailer = mailer
        self._sms = sms
        self._texts = texts
        self._now = now

    def start(self, customer_id: str, kind: str, value: str) -> StartStatus:
        """Send a code to the new ``email`` or ``phone`` ``value``; earlier codes stop working."""
        cleaned = check_contact(kind, value)
        if cleaned is None:
            return "invalid"
        now = self._now()
        code = f"{secrets.randbelow(10**6):06d}"
        with self._sessions.begin() as session:
            recent = session.execute(
                select(func.count())
                .select_from(ContactChange)
                .where(ContactChange.customer_id == customer_id, ContactChange.created_at > now - CODE_TTL)
            ).scalar_one()
            if recent >= MAX_CODES_PER_WINDOW:
                _LOGGER.info("contact.too_many kind=%s", kind)
                return "too_many"
            session.execute(
                update(ContactChange)
                .where(ContactChange.customer_id == customer_id, ContactChange.new_value != "")
                .values(used_at=now, new_value="")
            )
            session.add(
                ContactChange(
                    customer_id=customer_id,
                    kind=kind,
                    new_value=cleaned,
                    code_hash=self._hash(customer_id, code),
                    tries=0,
                    expires_at=now + CODE_TTL,
                    created_at=now,
                )
            )
        minutes = str(int(CODE_TTL.total_seconds() // 60))
        try:
            if kind == "email":
                body = self._texts.email_body.format(code=code, minutes=minutes)
                self._mailer.send(cleaned, self._texts.email_subject, body)
            else:
                self._sms.send(cleaned, self._texts.sms_body.format(code=code, minutes=minutes))
        except (MailError, SmsError) as exc:
            _LOGGER.warning("contact.send_failed kind=%s error=%s", kind, type(exc).__name__)
            return "send_failed"
        _LOGGER.info("contact.code_sent kind=%s", kind)
        return "sent"

    def verify(self, customer_id: str, typed: str) -> Verified:
        """Check the code typed against the customer's latest one; ``ok`` uses it up."""
        code = normalize_code(typed)
        if code is None:
            return Verified("invalid")
        now = self._now()
        with self._sessions.begin() as session:
            row = session.execute(
                select(ContactChange)
                .where(ContactChange.customer_id == customer_id, ContactChange.used_at.is_(None))
                .order_by(ContactChange.id.desc())
                .limit(1)
                .with_for_update()
            ).scalar_one_or_none()
            if row is None or row.expires_at <= now:
                return Verified("expired")
            if not hmac.compare_digest(row.code_hash, self._hash(customer_id, code)):
                row.tries += 1
                if row.tries >= MAX_WRONG_TRIES:
                    row.used_at, row.new_value = now, ""
                    return Verified("expired")
                return Verified("wrong", tries_left=MAX_WRONG_TRIES - row.tries)
            row.used_at = now
            kind = str(row.kind)
        _LOGGER.info("contact.verified kind=%s", kind)
        return Verified("ok", kind=kind)

    def take(self, customer_id: str) -> tuple[str, str] | None:
        """The value proven by the customer's code within the last 10 minutes, handed over once.

        Returns ``(kind, value)`` and forgets the value (the record system holds it from now on),
        or None when no proven value is waiting.
        """
        now = self._now()
        with self._sessions.begin() as session:
            row = session.execute(
                select(ContactChange)
                .where(
                    ContactChange.customer_id == customer_id,
                    ContactChange.used_at.is_not(None),
                    ContactChange.used_at > now - CODE_TTL,
                    ContactChange.new_value != "",
                )
                .order_by(ContactChange.id.desc())
                .limit(1)
                .with_for_update()
            ).scalar_one_or_none()
            if row is None:
                return None
            taken = (str(row.kind), str(row.new_value))
            row.new_value = ""
        return taken

    def _hash(self, customer_id: str, code: str) -> str:
        message = f"contact:{customer_id}:{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
