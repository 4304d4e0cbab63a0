"""The handoff packet: everything an agent needs to take over without asking again.

Built from the Rasa tracker events as the action server sees them (plain dicts), so it is
pure and tested without Rasa. The ``summary`` is a deterministic template, not generated
by a model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

#: Slots the dialogue keeps for itself, never shown to an agent.
INTERNAL_SLOTS = frozenset(
    {
        "diag_active",
        "diag_paused",
        "requested_slot",
        "link_email",
        "link_code",
        "pending_request",
        "session_started_metadata",
        "order_tries",
    }
)
#: Parts of slot names that may hold secrets or contact details.
SECRET_MARKERS = ("token", "email", "code", "password", "secret")
RECENT_INTENTS = 5
TOP_INTENTS = 3
_LAST_MESSAGE_CHARS = 160

_LEADS = {
    "customer_request": "Customer asked for a person",
    "frustration": "Customer seemed frustrated",
    "low_confidence": "The bot did not understand the customer",
    "diagnostics_exhausted": "The troubleshooting guide ran out of steps",
    "form_failed": "The customer could not complete a form (e.g. a valid order number)",
    "complaint": "Customer wants to make a complaint",
    "order_change": "Customer wants to change the items of an order (only a person can)",
}


def _at(event: Mapping[str, Any]) -> str | None:
    stamp = event.get("timestamp")
    if not isinstance(stamp, (int, float)):
        return None
    return dt.datetime.fromtimestamp(stamp, tz=dt.timezone.utc).isoformat(timespec="seconds")


#: Slots whose answers (an email address, a one-time code) are never shown to an agent.
REDACTED_ANSWERS = frozenset({"link_email", "link_code"})
REDACTED = "[redacted]"


def _texts(events: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], str]]:
    """(event, text) of each message; answers to an email or code question are redacted."""
    requested: Any = None
    for event in events:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind == "active_loop" and not event.get("name"):
            requested = None
        elif kind in ("user", "bot") and event.get("text"):
            secret = kind == "user" and requested in REDACTED_ANSWERS
            yield event, REDACTED if secret else str(event["text"])


def transcript(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every customer and bot message, in order: ``{sender, text, at}`` (email and code answers redacted)."""
    return [
        {"sender": "customer" if event["event"] == "user" else "bot", "text": text, "at": _at(event)}
        for event, text in _texts(events)
    ]


def recent_intents(events: Iterable[Mapping[str, Any]], limit: int = RECENT_INTENTS) -> list[dict[str, Any]]:
    """The last ``limit`` customer messages with the NLU's top-3 intents and confidences."""
    found: list[dict[str, Any]] = []
    for event, text in _texts(events):
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        ranking = parse.get("intent_ranking") or ([parse["intent"]] if parse.get("intent") else [])
        top = [
            {"intent": item.get("name"), "confidence": round(float(item.get("confidence") or 0.0), 3)}
            for item in ranking[:TOP_INTENTS]
            if isinstance(item, Mapping)
        ]
        found.append({"text": text, "ranking": top})
    return found[-limit:]


def filled_slots(slots: Mapping[str, Any]) -> dict[str, Any]:
    """Slots with a value, without the internal ones and anything that may be a secret."""
    return {
        name: value
        for name, value in slots.items()
        if name not in INTERNAL_SLOTS
        and not any(marker in name.lower() for marker in SECRET_MARKERS)
        and value not in (None, "", [], {})
    }


def _last_customer_text(lines: Sequence[Mapping[str, Any]]) -> str | None:
    for line in reversed(lines):
        if line["sender"] == "customer" and not str(line["text"]).startswith("/"):
            text = " ".join(str(line["text"]).split())
            return text if len(text) <= _LAST_MESSAGE_CHARS else text[: _LAST_MESSAGE_CHARS - 1] + "…"
    return None


#: What the customer already told the bot, by the slot that remembers it (first filled one wins).
KNOWN_SLOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("order", ("ss_order", "last_order", "order_number")),
    ("product", ("product_sku",)),
    ("stores", ("product_stores",)),
    ("request", ("ss_kind", "ss_last_kind")),
    ("reason", ("ss_reason",)),
    ("new address", ("ss_address",)),
)


def known(slots: Mapping[str, Any], troubleshooting: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the customer already said in this conversation (order, product, device, store...), so no one asks again."""
    found: dict[str, Any] = {}
    for label, names in KNOWN_SLOTS:
        value = next((slots.get(name) for name in names if slots.get(name) not in (None, "", [], {})), None)
        if value is not None:
            found[label] = value
    running = slots.get("diag_active")
    device = running.get("device") if isinstance(running, Mapping) and troubleshooting is None else None
    if device:
        found["device"] = device  # with a guide's path in the packet, the path already says it
    return found


def summarise(
    reason: str,
    troubleshooting: Mapping[str, Any] | None,
    lines: Sequence[Mapping[str, Any]],
    already_known: Mapping[str, Any] | None = None,
) -> str:
    """A short, deterministic description of why the conversation was handed over."""
    parts = [_LEADS.get(reason, f"Handed over ({reason})")]
    if troubleshooting:
        title = troubleshooting.get("guide_title") or troubleshooting.get("guide")
        path = troubleshooting.get("path") or []
        steps = ", ".join(f"{hop.get('step')}: {hop.get('answer')}" for hop in path if isinstance(hop, Mapping))
        count = f"{len(path)} step{'s' if len(path) != 1 else ''}"
        parts.append(f" during the {title} guide ({count}{': ' + steps if steps else ''})")
    text = "".join(parts) + "."
    if already_known:
        shown = ", ".join(
            f"{label} {', '.join(map(str, value)) if isinstance(value, list) else value}"
            for label, value in already_known.items()
        )
        text += f" Already told us: {shown}."
    last = _last_customer_text(lines)
    if last is not None:
        text += f" Last message: '{last}'."
    return text


def build_packet(
    reason: str,
    channel: str,
    events: Sequence[Mapping[str, Any]],
    slots: Mapping[str, Any],
    troubleshooting: Mapping[str, Any] | None,
    customer: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The packet stored with a handoff and shown to the agent who claims it.

    Args:
        reason: One of :data:`bot.handoff.requests.REASONS`.
        channel: The customer's channel (``web``, ``slack``, ``telegram``, ``direct``...).
        events: The tracker's events (dicts with ``event``, ``text``, ``timestamp``, ``parse_data``).
        slots: The tracker's current slot values; only filled, non-internal ones are kept.
        troubleshooting: The running guide's ``{guide, guide_title, path, device, ended_at}``
            (:func:`bot.diagnostics.flow.give_up`), or ``None``.
        customer: ``{"id", "summary"}`` of the verified customer, or ``None`` when anonymous.

    Returns:
        ``{reason, channel, customer, transcript, intents, slots, troubleshooting, known, summary}``;
        ``known`` is what the customer already told the bot (:func:`known`), also in the summary.
    """
    lines = transcript(events)
    told = known(slots, troubleshooting)
    return {
        "reason": reason,
        "channel": channel,
        "customer": dict(customer) if customer is not None else None,
        "transcript": lines,
        "intents": recent_intents(events),
        "slots": filled_slots(slots),
        "troubleshooting": dict(troubleshooting) if troubleshooting is not None else None,
        "known": told,
        "summary": summarise(reason, troubleshooting, lines, told),
    }


def customer_summary(orders: Sequence[Any], devices: Sequence[Any], subscriptions: Sequence[Any]) -> dict[str, Any]:
    """A short record summary for the agent from records-backend results (newest order first).

    Args:
        orders: :class:`bot.records.OrderInfo` items, newest first.
        devices: :class:`bot.records.DeviceInfo` items.
        subscriptions: :class:`bot.records.SubscriptionInfo` items.
    """
    latest = orders[0] if orders else None
    active = [s for s in subscriptions if getattr(s, "status", None) == "active"] or list(subscriptions)
    return {
        "orders": len(orders),
        "latest_order": {"number": latest.number, "status": latest.status} if latest is not None else None,
        "devices": len(devices),
        "plan": active[0].plan_name if active else None,
    }
