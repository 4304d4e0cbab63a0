"""What simulated customers say and simulated agents answer: ``data/simulation/customers.yml``."""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

#: Lists every phrasebook must have (each with at least one phrase).
REQUIRED = (
    "greetings",
    "goodbyes",
    "products",
    "cities",
    "product_questions",
    "product_follow_ups",
    "help_questions",
    "guide_leave",
    "order_status",
    "order_again",
    "account_questions",
    "cancel",
    "return",
    "opt_out",
    "ask_person",
    "frustrated",
    "not_understood",
    "to_agent",
    "agent_openers",
    "agent_closers",
)
#: The placeholders a phrase may use.
PLACEHOLDERS = frozenset({"product", "other", "city", "order", "agent"})


@dataclass(frozen=True)
class Phrasebook:
    """Phrases by kind, and how customers first describe each troubleshooting guide's problem."""

    lists: Mapping[str, tuple[str, ...]]
    guide_openers: Mapping[str, tuple[str, ...]]

    def pick(self, rng: random.Random, kind: str, **values: str) -> str:
        """One phrase of ``kind`` chosen with ``rng``, its placeholders filled from ``values``."""
        return self.lists[kind][rng.randrange(len(self.lists[kind]))].format(**values)

    def opener(self, rng: random.Random, guide_id: str) -> str:
        """How a customer starts the conversation about guide ``guide_id``'s problem."""
        phrases = self.guide_openers[guide_id]
        return phrases[rng.randrange(len(phrases))]


def _phrases(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: must be a non-empty list of phrases")
    for phrase in value:
        names = {name for _, name, _, _ in string.Formatter().parse(phrase) if name is not None}
        if names - PLACEHOLDERS:
            raise ValueError(f"{where}: unknown placeholder(s) {sorted(names - PLACEHOLDERS)} in {phrase!r}")
    return tuple(value)


def load_phrasebook(path: Path, guide_ids: frozenset[str] | None = None) -> Phrasebook:
    """Read the phrasebook; with ``guide_ids``, check that every guide has openers.

    Raises:
        ValueError: The file is missing a list, a list is empty, or a phrase has an unknown placeholder.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of phrase lists")
    lists = {kind: _phrases(data.get(kind), f"{path}: {kind}") for kind in REQUIRED}
    openers_raw = data.get("guide_openers")
    if not isinstance(openers_raw, dict):
        raise ValueError(f"{path}: guide_openers must map guide ids to phrases")
    openers = {str(guide): _phrases(value, f"{path}: guide_openers.{guide}") for guide, value in openers_raw.items()}
    if guide_ids is not None and guide_ids - set(openers):
        raise ValueError(f"{path}: no guide_openers for {sorted(guide_ids - set(openers))}")
    return Phrasebook(lists=lists, guide_openers=openers)
