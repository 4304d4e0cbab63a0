"""A real SMTP server (aiosmtpd) on a free local port that keeps every message it receives."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.helpers import free_port


@dataclass
class MailSink:
    """What the local SMTP server received."""

    port: int
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def code(self, index: int = -1) -> str:
        """The one 6-digit code in message ``index``."""
        body = self.messages[index].get_payload(decode=True)
        assert isinstance(body, bytes)
        found = re.findall(r"\b\d{6}\b", body.decode("utf-8"))
        assert len(found) == 1, body
        return str(found[0])

    def all_codes(self) -> list[str]:
        """Every 6-digit code mailed so far."""
        found = []
        for message in self.messages:
            body = message.get_payload(decode=True)
            text = body.decode("utf-8") if isinstance(body, bytes) else str(message.get_payload())
            found.extend(re.findall(r"\b\d{6}\b", text))
        return found

    def codes_for(self, address: str) -> list[str]:
        """The 6-digit codes mailed to ``address``, oldest first."""
        found = []
        for rcpt, message in zip(self.recipients, self.messages, strict=True):
            if address.lower() in (r.lower() for r in rcpt):
                body = message.get_payload(decode=True)
                text = body.decode("utf-8") if isinstance(body, bytes) else str(message.get_payload())
                found.extend(re.findall(r"\b\d{6}\b", text))
        return found


@contextmanager
def smtp_server() -> Iterator[MailSink]:
    """Run a MailSink on 127.0.0.1 for the duration of the block."""
    sink = MailSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
