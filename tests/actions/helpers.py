"""Builders for the trackers the action server receives, and for what the actions send back.

A tracker is built as Rasa hands it to the action server: the latest message's parse data,
the conversation's events (the latest ``user`` event carrying the gateway's identity in its
``metadata`` as a turn token signed with the test settings' ``BOT_TURN_SECRET``, as
``actions/context.py`` reads it), the slots and the active loop.
"""

from __future__ import annotations

import datetime as dt
import email
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from actions.services import Services
from bot.db.models import Agent, Handoff, HandoffStatus, RecordAccess
from bot.diagnostics import DiagnosticTree
from bot.identity.turns import METADATA_KEY, TurnIdentity, mint_turn_token
from bot.settings import PROJECT_ROOT

CONVERSATION = "conv-1"
CHANNEL_USER = "visitor-1"
#: ``BOT_TURN_SECRET`` of the ``settings`` fixture (tests/conftest.py), which the actions' services use.
TURN_SECRET = "turn-secret-for-tests-at-least-32-bytes"
#: Time of the latest customer message of every built tracker (earlier events are a few seconds before).
T0 = 1_795_430_000.0

Event = dict[str, Any]
#: Services parts built from the data folder alone (immutable; conftest.py loads them once per session).
DATA_PARTS = ("guides", "product_answers", "handoff_config", "business_hours", "help_index", "help_replies")


def identity(
    customer_id: str | None = None,
    channel_user: str = CHANNEL_USER,
    channel: str = "web",
    *,
    conversation: str = CONVERSATION,
    secret: str = TURN_SECRET,
    ttl_s: int = 120,
) -> dict[str, Any]:
    """The gateway's metadata: who sent the message, vouched for by a turn token as the gateway signs it.

    ``secret``, ``ttl_s`` and ``conversation`` other than the defaults make tokens the actions must refuse.
    """
    vouched = TurnIdentity(
        conversation_id=conversation,
        channel=channel,
        channel_user=channel_user,
        customer_id=customer_id,
        verified_by="token" if customer_id else None,
    )
    return {
        "channel": channel,
        "conversation_id": conversation,
        "channel_user": channel_user,
        METADATA_KEY: mint_turn_token(vouched, secret, ttl_s=ttl_s),
    }


def forged_identity(customer_id: str, channel_user: str = CHANNEL_USER, channel: str = "web") -> dict[str, Any]:
    """Metadata that only claims a customer, as the gateway's metadata did before turn tokens (no signature)."""
    return {
        "channel": channel,
        "conversation_id": CONVERSATION,
        "channel_user": channel_user,
        "customer_id": customer_id,
        "verified_by": "token",
    }


def parse_data(
    text: str,
    intent: str | None = None,
    entities: Sequence[tuple[str, Any]] = (),
    ranking: Sequence[tuple[str, float]] = (),
    confidence: float = 0.97,
) -> dict[str, Any]:
    """What the NLU made of ``text``: intent, entities (name, value) and the intent ranking."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "entities": [{"entity": name, "value": value, "extractor": "test"} for name, value in entities],
        "intent_ranking": [{"name": name, "confidence": score} for name, score in ranking],
    }


def user(
    text: str,
    intent: str | None = None,
    *,
    entities: Sequence[tuple[str, Any]] = (),
    ranking: Sequence[tuple[str, float]] = (),
    metadata: dict[str, Any] | None = None,
    at: float = T0 - 60,
) -> Event:
    """A customer message event (``metadata`` defaults to an anonymous web visitor)."""
    return {
        "event": "user",
        "timestamp": at,
        "text": text,
        "parse_data": parse_data(text, intent, entities, ranking),
        "input_channel": "rest",
        "metadata": identity() if metadata is None else metadata,
    }


def bot(text: str, at: float = T0 - 50) -> Event:
    """A bot message event."""
    return {"event": "bot", "timestamp": at, "text": text, "data": {}, "metadata": {}}


def action(name: str, at: float = T0 - 55) -> Event:
    """An action-executed event."""
    return {"event": "action", "timestamp": at, "name": name, "policy": None, "confidence": 1.0}


def slot(name: str, value: Any, at: float = T0 + 1) -> Event:
    """A slot event."""
    return {"event": "slot", "timestamp": at, "name": name, "value": value}


def make_tracker(
    text: str = "",
    intent: str | None = None,
    *,
    entities: Sequence[tuple[str, Any]] = (),
    ranking: Sequence[tuple[str, float]] = (),
    customer_id: str | None = None,
    channel_user: str = CHANNEL_USER,
    metadata: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    history: Iterable[Event] = (),
    after: Iterable[Event] = (),
    active_loop: str | None = None,
    sender_id: str = CONVERSATION,
) -> Tracker:
    """A tracker whose latest event is (``after`` aside) the customer's ``text``.

    Args:
        text: The latest customer message.
        intent: Its intent (``None``: no intent).
        entities: (entity, value) pairs of the latest message.
        ranking: (intent, confidence) pairs of the latest message.
        customer_id: The customer the gateway verified (``None``: anonymous).
        channel_user: The sender on the channel.
        metadata: The gateway's metadata, instead of the one built from ``customer_id``.
        slots: Current slot values.
        history: Events before the latest message.
        after: Events after it (this turn's actions, slot events).
        active_loop: The active form.
        sender_id: The conversation id.
    """
    meta = metadata if metadata is not None else identity(customer_id, channel_user, conversation=sender_id)
    latest = user(text, intent, entities=entities, ranking=ranking, metadata=meta, at=T0)
    return Tracker(
        sender_id=sender_id,
        slots=dict(slots or {}),
        latest_message={**latest["parse_data"], "metadata": meta},
        events=[*history, latest, *after],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def said(
    response: str | None = None,
    *,
    text: str | None = None,
    buttons: Sequence[tuple[str, str]] = (),
    **values: Any,
) -> dict[str, Any]:
    """A message exactly as ``CollectingDispatcher.utter_message`` records it."""
    return {
        "text": text,
        "buttons": [{"title": title, "payload": payload} for title, payload in buttons],
        "elements": [],
        "custom": {},
        "template": response,
        "response": response,
        "image": None,
        "attachment": None,
        **values,
    }


async def run(
    action_: Action, tracker: Tracker, domain: dict[str, Any] | None = None
) -> tuple[list[Event], list[dict[str, Any]]]:
    """Run an action as the action server does: (returned events, messages sent)."""
    dispatcher = CollectingDispatcher()
    events = await action_.run(dispatcher, tracker, domain or {})
    return events, dispatcher.messages


def iso(stamp: float) -> str:
    """An event timestamp as the handoff packet's transcript writes it."""
    return dt.datetime.fromtimestamp(stamp, tz=dt.timezone.utc).isoformat(timespec="seconds")


def handoff_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every handoff in the database, oldest first."""
    with Session(engine) as session:
        rows = session.execute(select(Handoff).order_by(Handoff.id)).scalars()
        return [
            {
                "id": h.id,
                "conversation_id": h.conversation_id,
                "status": h.status.value,
                "reason": h.reason,
                "packet": h.packet,
                "csat": h.csat,
                "created_at": h.created_at,
            }
            for h in rows
        ]


def resolve_handoff(engine: Engine, handoff_id: int, resolved_at: dt.datetime) -> None:
    """Mark a handoff resolved by an agent at ``resolved_at`` (what the agent desk does)."""
    with Session(engine) as session, session.begin():
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None
        handoff.status = HandoffStatus.RESOLVED
        handoff.resolved_at = resolved_at


def audit_rows(engine: Engine) -> list[tuple[str, str, str, str]]:
    """(customer_id, record_kind, channel, outcome) of every record access, in order."""
    with Session(engine) as session:
        rows = session.execute(select(RecordAccess).order_by(RecordAccess.id)).scalars()
        return [(r.customer_id, r.record_kind, r.channel, r.outcome) for r in rows]


def now_utc() -> dt.datetime:
    """The current time, timezone-aware."""
    return dt.datetime.now(dt.timezone.utc)


def queue_notice_at(services: Services, moment: dt.datetime, position: int) -> dict[str, Any]:
    """The handoff notice a customer should get at ``moment`` (data/business_hours.yml, the agent roster).

    In business hours with an active agent: the queue position; otherwise when the team is next in.
    """
    hours = services.business_hours
    with Session(services.engine) as session:
        agents = session.execute(select(func.count(Agent.id)).where(Agent.active.is_(True))).scalar_one()
    if hours.is_open(moment) and agents > 0:
        return said("utter_handoff_queued", position=str(position))
    opens = hours.next_open(moment)
    return said("utter_handoff_out_of_hours", opens=f"{opens:%A} at {opens:%H:%M} ({opens.tzname()})")


def expected_notices(
    services: Services, before: dt.datetime, after: dt.datetime, position: int = 1
) -> list[dict[str, Any]]:
    """The notice at either end of the time the action ran (both equal unless the team's hours changed meanwhile)."""
    return [queue_notice_at(services, before, position), queue_notice_at(services, after, position)]


class Mailbox:
    """The development mail folder (BOT_SMTP_HOST=maildir): the linking emails that arrived since the last look."""

    def __init__(self, folder: Path) -> None:
        """Watch ``folder`` (it may not exist yet)."""
        self.folder = folder
        self._seen: set[Path] = set()

    def new(self) -> list[tuple[str, str]]:
        """(recipient, 6-digit code) of each email written since the previous call."""
        paths = set(self.folder.glob("*.eml")) if self.folder.exists() else set()
        fresh = sorted(paths - self._seen)
        self._seen |= paths
        found = []
        for path in fresh:
            message = email.message_from_bytes(path.read_bytes())
            code = re.search(r"\b(\d{6})\b", str(message.get_payload()))
            assert code is not None, f"no code in {path.name}"
            found.append((str(message["To"]), code.group(1)))
        return found


def guide_state(
    guides: Mapping[str, DiagnosticTree],
    guide_id: str,
    node: str,
    path: Sequence[tuple[str, str]] = (),
    device: str | None = None,
    misses: int = 0,
) -> dict[str, Any]:
    """The ``diag_active`` value of a guide running at ``node``.

    With the step's options and, after a first answer, those of the step answered last (for the policy).
    """
    tree = guides[guide_id]
    state = {
        **paused_entry(guides, guide_id, node, path, device, misses),
        "intent": tree.intent,
        "options": [[option.title, [*option.synonyms, *option.mentions]] for option in tree.nodes[node].options],
    }
    if path:
        previous = tree.nodes[path[-1][0]].options
        state["previous"] = [[option.title, [*option.synonyms, *option.mentions]] for option in previous]
    return state


def paused_entry(
    guides: Mapping[str, DiagnosticTree],
    guide_id: str,
    node: str,
    path: Sequence[tuple[str, str]] = (),
    device: str | None = None,
    misses: int = 0,
) -> dict[str, Any]:
    """A ``diag_paused`` item: the guide left at ``node``."""
    return {
        "version": 1,
        "guide": guide_id,
        "node": node,
        "path": [[step, answer] for step, answer in path],
        "device": device,
        "misses": misses,
        "title": guides[guide_id].title,
    }


def step_message(guides: Mapping[str, DiagnosticTree], guide_id: str, node: str, offer_person: bool = False) -> dict:
    """The message showing a guide's step: its text, one button per option (``/diag_choose``), maybe a person."""
    step = guides[guide_id].nodes[node]
    buttons = [(option.title, f'/diag_choose{{"option":"{i}"}}') for i, option in enumerate(step.options, start=1)]
    if offer_person:
        buttons.append(("Talk to a person", "/request_human"))
    return said(text=step.text, buttons=buttons)


def load_domain() -> dict[str, Any]:
    """The bot's domain.yml, as the action server receives it."""
    with (PROJECT_ROOT / "domain.yml").open(encoding="utf-8") as handle:
        domain: dict[str, Any] = yaml.safe_load(handle)
    return domain


def day(value: dt.date) -> str:
    """A date as the replies write it: ``3 Nov 2026``."""
    return f"{value.day} {value:%b %Y}"


def with_data_parts(built: Services, loaded: Services) -> Services:
    """``built``, reusing the data-file parts ``loaded`` has read (same data folder)."""
    assert built.settings.paths.data_dir == loaded.settings.paths.data_dir
    built.__dict__.update({part: getattr(loaded, part) for part in DATA_PARTS})
    return built
