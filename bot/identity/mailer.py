"""Outgoing email for account linking: a small interface, SMTP, and a development mail folder."""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses, make_msgid
from pathlib import Path
from typing import Protocol

_LOGGER = logging.getLogger(__name__)


class MailError(RuntimeError):
    """An email could not be handed to the mail server (the message names no recipient)."""


class Mailer(Protocol):
    """Sends one plain-text email; raises :class:`MailError` when it cannot."""

    def send(self, to: str, subject: str, body: str) -> None:
        """Send ``body`` to ``to`` with ``subject``."""


class SmtpMailer:
    """Send email through an SMTP server (stdlib :mod:`smtplib`), one connection per message.

    Args:
        host: SMTP server host (``BOT_SMTP_HOST``).
        port: SMTP server port (``BOT_SMTP_PORT``).
        sender: The From header (``BOT_SMTP_FROM``).
        user: Login name; no login when empty.
        password: Login password.
        starttls: Upgrade the connection with STARTTLS (certificate verified) before login.
        timeout_s: Socket timeout of each SMTP operation.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        user: str = "",
        password: str = "",
        starttls: bool = False,
        timeout_s: float = 10,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._user = user
        self._password = password
        self._starttls = starttls
        self._timeout_s = timeout_s

    def send(self, to: str, subject: str, body: str) -> None:
        """Send one plain-text email.

        Raises:
            MailError: the server is unreachable, refuses the login or the message; the
                error names the server and the failure kind, never the recipient or body.
        """
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2].strip(">") or None)
        message.set_content(body)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout_s) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._user:
                    smtp.login(self._user, self._password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            _LOGGER.warning("mail.failed server=%s:%d error=%s", self._host, self._port, type(exc).__name__)
            raise MailError(f"mail server {self._host}:{self._port} failed: {type(exc).__name__}") from exc
        _LOGGER.info("mail.sent server=%s:%d", self._host, self._port)


class MaildirMailer:
    """Development only: writes each email as a file (mode 0600) instead of sending it.

    Chosen with ``BOT_SMTP_HOST=maildir`` (the default in development), so that the demo's
    account linking works without a mail server: the code is read from ``var/mail/``. Never
    used in production (settings refuse it there).
    """

    def __init__(self, folder: Path, sender: str) -> None:
        """Write messages into ``folder`` (created on first use)."""
        self._folder = folder
        self._sender = sender

    def send(self, to: str, subject: str, body: str) -> None:
        """Store the message as ``<time>-<random>.eml``."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._sender, to, subject
        message.set_content(body)
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            path = self._folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}.eml"
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
                handle.write(bytes(message))
        except OSError as exc:
            raise MailError(f"cannot write to the mail folder: {type(exc).__name__}") from exc


def delete_maildir_mails(folder: Path, address: str) -> int:
    """Delete the development mail folder's messages addressed to ``address`` (case-insensitive).

    Only ``*.eml`` files whose ``To`` header names the address are removed; other files, and
    files that are not mails, stay.

    Returns:
        How many files were deleted.

    Raises:
        OSError: a file could not be read or deleted.
    """
    wanted = address.strip().lower()
    if not wanted or not folder.is_dir():
        return 0
    deleted = 0
    for path in sorted(folder.glob("*.eml")):
        with path.open("rb") as handle:
            headers = BytesHeaderParser(policy=policy.compat32).parse(handle)
        recipients = {found.lower() for _, found in getaddresses([str(v) for v in headers.get_all("To", [])])}
        if wanted in recipients:
            path.unlink()
            deleted += 1
    return deleted
