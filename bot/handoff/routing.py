"""Routing rules as data: ``data/routing.yml`` decides each handoff's queue and how offers time out.

The queue comes from the handoff's packet (see :func:`bot.handoff.packet.build_packet`): its
reason, the guide it came from, the form or action that was running, or the customer's most
recent topic intent. Which agent gets the offer is :mod:`bot.handoff.router`'s business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.yamlfile import read_yaml

DEFAULT_PATH = Path("data") / "routing.yml"
_MATCHERS = ("reasons", "guides", "actions", "intents")


class RoutingError(ValueError):
    """``routing.yml`` is missing, malformed or has an invalid value."""


@dataclass(frozen=True)
class Queue:
    """A queue of handoffs and the agents' skill that works it (``None``: every agent)."""

    id: str
    title: str
    skill: str | None


@dataclass(frozen=True)
class Rule:
    """Handoffs matching any of the lists go to ``queue``."""

    queue: str
    reasons: frozenset[str] = frozenset()
    guides: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    intents: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RoutingRules:
    """The parsed ``routing.yml``."""

    queues: Mapping[str, Queue]
    rules: tuple[Rule, ...] = ()
    default_queue: str = "general"
    topicless_intents: frozenset[str] = frozenset()
    offer_seconds: float = 60.0
    heartbeat_timeout_seconds: float = 90.0
    skills: frozenset[str] = field(default_factory=frozenset)

    def queue(self, queue_id: str) -> Queue | None:
        """The queue with that id."""
        return self.queues.get(queue_id)

    def skill_of(self, queue_id: str) -> str | None:
        """The skill an agent needs for the queue (``None``: anyone; an unknown queue counts as the default)."""
        found = self.queues.get(queue_id) or self.queues[self.default_queue]
        return found.skill

    def topic_intent(self, packet: Mapping[str, Any]) -> str | None:
        """The customer's most recent intent that names a topic (the packet's ``intents``, latest last)."""
        for item in reversed(list(packet.get("intents") or [])):
            ranking = item.get("ranking") if isinstance(item, Mapping) else None
            top = ranking[0] if isinstance(ranking, list) and ranking and isinstance(ranking[0], Mapping) else {}
            name = top.get("intent")
            if isinstance(name, str) and name not in self.topicless_intents:
                return name
        return None

    def queue_for(self, packet: Mapping[str, Any]) -> str:
        """The queue of a handoff with this packet (first matching rule; else the default queue)."""
        reason = packet.get("reason")
        troubleshooting = packet.get("troubleshooting")
        guide = troubleshooting.get("guide") if isinstance(troubleshooting, Mapping) else None
        action = packet.get("action")
        intent = self.topic_intent(packet)
        for rule in self.rules:
            if reason in rule.reasons or guide in rule.guides or action in rule.actions:
                return rule.queue
        if intent is not None:
            for rule in self.rules:
                if intent in rule.intents:
                    return rule.queue
        return self.default_queue


def _names(value: Any, key: str, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise RoutingError(f"{where}: {key} must be a list of names, not {value!r}")
    return frozenset(item.strip() for item in value)


def _seconds(document: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = document.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 86_400:
        raise RoutingError(f"{where}: {key} must be a number of seconds from 1 to 86400, not {value!r}")
    return float(value)


def parse_routing(document: Any, where: str = "routing.yml") -> RoutingRules:
    """Validate a parsed ``routing.yml``.

    Raises:
        RoutingError: with ``where`` and what is wrong.
    """
    if not isinstance(document, dict):
        raise RoutingError(f"{where}: expected a mapping at the top level")
    unknown = set(document) - {
        "default_queue",
        "queues",
        "rules",
        "topicless_intents",
        "offer_seconds",
        "heartbeat_timeout_seconds",
    }
    if unknown:
        raise RoutingError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    raw_queues = document.get("queues")
    if not isinstance(raw_queues, list) or not raw_queues:
        raise RoutingError(f"{where}: queues must be a non-empty list")
    default = document.get("default_queue", "general")
    queues: dict[str, Queue] = {}
    for index, raw in enumerate(raw_queues, 1):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"].strip():
            raise RoutingError(f"{where}: queue #{index} needs an id")
        queue_id = raw["id"].strip()
        if queue_id in queues:
            raise RoutingError(f"{where}: queue {queue_id!r} is listed twice")
        extra = set(raw) - {"id", "title", "skill"}
        if extra:
            raise RoutingError(f"{where}: queue {queue_id!r} has unknown key(s) {', '.join(sorted(extra))}")
        skill = raw.get("skill", None if queue_id == default else queue_id)
        if skill is not None and (not isinstance(skill, str) or not skill.strip()):
            raise RoutingError(f"{where}: queue {queue_id!r} has an invalid skill {skill!r}")
        title = raw.get("title", queue_id)
        if not isinstance(title, str) or not title.strip():
            raise RoutingError(f"{where}: queue {queue_id!r} has an invalid title")
        queues[queue_id] = Queue(queue_id, title.strip(), skill.strip() if skill else None)
    if default not in queues:
        raise RoutingError(f"{where}: default_queue {default!r} is not one of the queues")
    rules: list[Rule] = []
    for index, raw in enumerate(document.get("rules") or [], 1):
        label = f"{where}: rule #{index}"
        if not isinstance(raw, dict):
            raise RoutingError(f"{label} must be a mapping")
        extra = set(raw) - {"queue", *_MATCHERS}
        if extra:
            raise RoutingError(f"{label} has unknown key(s) {', '.join(sorted(extra))}")
        if raw.get("queue") not in queues:
            raise RoutingError(f"{label} names an unknown queue {raw.get('queue')!r}")
        matchers = {key: _names(raw.get(key), key, label) for key in _MATCHERS}
        if not any(matchers.values()):
            raise RoutingError(f"{label} matches nothing (give reasons, guides, actions or intents)")
        rules.append(Rule(queue=raw["queue"], **matchers))
    return RoutingRules(
        queues=queues,
        rules=tuple(rules),
        default_queue=default,
        topicless_intents=_names(document.get("topicless_intents"), "topicless_intents", where),
        offer_seconds=_seconds(document, "offer_seconds", 60, where),
        heartbeat_timeout_seconds=_seconds(document, "heartbeat_timeout_seconds", 90, where),
        skills=frozenset(q.skill for q in queues.values() if q.skill),
    )


def load_routing(path: Path) -> RoutingRules:
    """Read and validate ``routing.yml``.

    Raises:
        RoutingError: the file is missing, is not YAML, or is invalid.
    """
    return parse_routing(read_yaml(path, RoutingError), str(path))


def check_against(
    rules: RoutingRules,
    *,
    agent_skills: Iterable[str],
    intents: Iterable[str],
    guides: Iterable[str] | None,
    reasons: Sequence[str],
) -> list[str]:
    """Problems between the rules and the rest of the data (``make validate``): names that exist nowhere.

    ``guides`` ``None``: the guides could not be read (their own check says why); guide names are not checked.
    """
    problems: list[str] = []
    known_skills, known_intents = set(agent_skills), set(intents)
    known_guides = set(guides) if guides is not None else None
    for queue in rules.queues.values():
        if queue.skill is not None and queue.skill not in known_skills:
            problems.append(f"queue {queue.id!r} needs skill {queue.skill!r}, which no agent in agents.yml has")
    for index, rule in enumerate(rules.rules, 1):
        for intent in sorted(rule.intents - known_intents):
            problems.append(f"rule #{index}: intent {intent!r} is not in domain.yml")
        for guide in sorted(rule.guides - known_guides) if known_guides is not None else ():
            problems.append(f"rule #{index}: guide {guide!r} is not in data/diagnostics")
        for reason in sorted(rule.reasons - set(reasons)):
            problems.append(f"rule #{index}: reason {reason!r} is not a handoff reason")
    return problems
