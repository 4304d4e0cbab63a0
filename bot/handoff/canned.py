"""Canned replies: ``data/canned_replies.yml``, with placeholders filled from a handoff's packet."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.yamlfile import read_yaml

DEFAULT_PATH = Path("data") / "canned_replies.yml"
#: The placeholders a canned reply may use.
PLACEHOLDERS = ("customer_name", "order", "device", "agent_name")
_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_TEXT_CHARS = 2000


class CannedRepliesError(ValueError):
    """``canned_replies.yml`` is missing, malformed or uses an unknown placeholder."""


@dataclass(frozen=True)
class CannedReply:
    """One canned reply as written in the file."""

    id: str
    title: str
    text: str

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholders the text uses, in order of first use."""
        names = [name for _, name, _, _ in string.Formatter().parse(self.text) if name]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class CannedText:
    """A canned reply filled for one handoff: ``missing`` names the placeholders left as they were."""

    id: str
    title: str
    text: str
    missing: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The agent API's shape."""
        return {"id": self.id, "title": self.title, "text": self.text, "missing": list(self.missing)}


def parse_canned_replies(document: Any, where: str = "canned_replies.yml") -> tuple[CannedReply, ...]:
    """Validate a parsed ``canned_replies.yml``.

    Raises:
        CannedRepliesError: with ``where`` and what is wrong.
    """
    if not isinstance(document, dict) or not isinstance(document.get("replies"), list):
        raise CannedRepliesError(f"{where}: expected a mapping with a list under 'replies'")
    replies: dict[str, CannedReply] = {}
    for index, raw in enumerate(document["replies"], 1):
        label = f"{where}: reply #{index}"
        if not isinstance(raw, dict):
            raise CannedRepliesError(f"{label} must be a mapping")
        extra = set(raw) - {"id", "title", "text"}
        if extra:
            raise CannedRepliesError(f"{label} has unknown key(s) {', '.join(sorted(extra))}")
        reply_id, title, text = raw.get("id"), raw.get("title"), raw.get("text")
        if not isinstance(reply_id, str) or not _ID.fullmatch(reply_id):
            raise CannedRepliesError(f"{label}: id must be lower-case letters, digits and _ (got {reply_id!r})")
        if reply_id in replies:
            raise CannedRepliesError(f"{label}: id {reply_id!r} is used twice")
        if not isinstance(title, str) or not title.strip() or len(title) > 80:
            raise CannedRepliesError(f"{label} ({reply_id}): title must be 1 to 80 characters")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
            raise CannedRepliesError(f"{label} ({reply_id}): text must be 1 to {MAX_TEXT_CHARS} characters")
        reply = CannedReply(reply_id, title.strip(), " ".join(text.split()))
        try:
            unknown = [name for name in reply.placeholders if name not in PLACEHOLDERS]
        except ValueError as exc:
            raise CannedRepliesError(f"{label} ({reply_id}): broken braces in text ({exc})") from exc
        if unknown:
            raise CannedRepliesError(
                f"{label} ({reply_id}): unknown placeholder(s) {', '.join(unknown)} (known: {', '.join(PLACEHOLDERS)})"
            )
        replies[reply_id] = reply
    return tuple(replies.values())


def load_canned_replies(path: Path) -> tuple[CannedReply, ...]:
    """Read and validate ``canned_replies.yml``.

    Raises:
        CannedRepliesError: the file is missing, not YAML, or invalid.
    """
    return parse_canned_replies(read_yaml(path, CannedRepliesError), str(path))


def fill(reply: CannedReply, values: Mapping[str, str | None]) -> CannedText:
    """The reply with every placeholder that has a value filled in; the others stay ``{name}``."""
    missing = tuple(name for name in reply.placeholders if not values.get(name))
    known = {name: values.get(name) or "{" + name + "}" for name in reply.placeholders}
    return CannedText(reply.id, reply.title, reply.text.format_map(known), missing)


def first_name(name: str | None) -> str | None:
    """The first word of a name (how agents address customers)."""
    return name.split()[0] if name and name.split() else None


def packet_order(packet: Mapping[str, Any]) -> str | None:
    """The order the conversation is about (``known``), else the customer's latest order."""
    told = packet.get("known") if isinstance(packet.get("known"), Mapping) else {}
    order = told.get("order") if told else None
    if isinstance(order, str) and order:
        return order
    customer = packet.get("customer") if isinstance(packet.get("customer"), Mapping) else None
    summary = customer.get("summary") if customer else None
    latest = summary.get("latest_order") if isinstance(summary, Mapping) else None
    number = latest.get("number") if isinstance(latest, Mapping) else None
    return str(number) if number else None


def packet_device(packet: Mapping[str, Any]) -> str | None:
    """The device or product the conversation is about (a guide's device, else the product named)."""
    troubleshooting = packet.get("troubleshooting")
    device = troubleshooting.get("device") if isinstance(troubleshooting, Mapping) else None
    told = packet.get("known") if isinstance(packet.get("known"), Mapping) else {}
    device = device or (told.get("device") if told else None) or (told.get("product") if told else None)
    return str(device) if device else None
