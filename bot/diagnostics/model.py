"""Data model of a troubleshooting guide (a decision tree loaded from YAML)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Node kinds that ask the customer something and offer options.
STEP_KINDS = ("instruction", "question")
#: Node kinds that end the guide.
TERMINAL_KINDS = ("resolved", "handoff")
#: Targets every guide may use in ``next`` without defining them.
RESERVED_TARGETS = TERMINAL_KINDS
#: Product categories of the catalogue (``applies_to`` and ``ask_device`` answers).
DEVICE_CATEGORIES = (
    "router",
    "mesh",
    "extender",
    "adapter",
    "powerline",
    "switch",
    "accessory",
    "subscription",
)


@dataclass(frozen=True)
class Option:
    """One answer the customer can give at a step.

    Attributes:
        title: Button title, also matched against free text.
        next: Id of the following node, or ``resolved`` / ``handoff``.
        synonyms: Free-text phrasings that select this option.
        mentions: Specific phrases (product names, "powerline adapter") that also select this
            option and, in the customer's opening message, answer its question before it is asked.
        value: Machine value of the answer (the device category on ``ask_device`` nodes).
        line: Line of the option in its file.
        next_line: Line of its ``next`` value.
    """

    title: str
    next: str
    synonyms: tuple[str, ...] = ()
    value: str | None = None
    line: int = 0
    next_line: int = 0
    mentions: tuple[str, ...] = ()

    @property
    def phrases(self) -> tuple[str, ...]:
        """Every free-text phrasing that selects this option: synonyms, then mentions."""
        return (*self.synonyms, *self.mentions)


@dataclass(frozen=True)
class Node:
    """One node of a guide: a step (instruction/question) or a terminal (resolved/handoff).

    Attributes:
        id: Node id, unique within the guide.
        kind: One of ``instruction``, ``question``, ``resolved``, ``handoff``.
        text: Customer-visible text; empty only for the built-in ``resolved``/``handoff`` targets.
        options: Answers offered at a step; empty for terminals.
        ask_device: The chosen option's value is the customer's device category.
        line: Line of the node id in its file.
    """

    id: str
    kind: str
    text: str
    options: tuple[Option, ...] = ()
    ask_device: bool = False
    line: int = 0

    @property
    def is_terminal(self) -> bool:
        """Whether the guide ends at this node."""
        return self.kind in TERMINAL_KINDS


@dataclass(frozen=True)
class DiagnosticTree:
    """A whole troubleshooting guide.

    Attributes:
        id: Guide id, unique across guides.
        title: Short title shown to agents and in menus.
        intent: Rasa intent that starts the guide.
        start: Id of the first node.
        nodes: Node id to node, in file order.
        applies_to: Product categories the guide is for (empty means all).
        intro: Said before the first step shown when the opening message already answered
            the start question (the start question's own text is skipped then).
        path: File the guide was loaded from.
        line: Line of the top-level mapping.
        id_line: Line of the ``id`` value.
        intent_line: Line of the ``intent`` value.
        start_line: Line of the ``start`` value.
    """

    id: str
    title: str
    intent: str
    start: str
    nodes: Mapping[str, Node]
    applies_to: tuple[str, ...] = ()
    intro: str = ""
    path: Path = field(default_factory=Path)
    line: int = 1
    id_line: int = 1
    intent_line: int = 1
    start_line: int = 1

    def node(self, node_id: str) -> Node:
        """Return a node, including the built-in ``resolved``/``handoff`` terminals.

        Raises:
            KeyError: ``node_id`` is neither defined nor reserved.
        """
        found = self.nodes.get(node_id)
        if found is not None:
            return found
        if node_id in RESERVED_TARGETS:
            return Node(id=node_id, kind=node_id, text="")
        raise KeyError(node_id)
