"""A pure state machine that walks a customer through a :class:`DiagnosticTree`.

No I/O and no Rasa: the dialogue layer keeps :meth:`DiagnosticSession.to_dict` in a slot
and rebuilds the session with :meth:`DiagnosticSession.from_dict` on the next turn, so a
customer can leave and come back at the same step.

Button payloads are ``/diag_choose{"option":"N"}`` where ``N`` is the 1-based position of
the option at the current step (see :func:`option_payload`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.diagnostics.matching import match_correction, match_option, mentioned_option, statements
from bot.diagnostics.model import DiagnosticTree, Node

PAYLOAD_INTENT = "diag_choose"
STATE_VERSION = 1
_PAYLOAD = re.compile(rf"^/{PAYLOAD_INTENT}(\{{.*\}})?$", re.DOTALL)

OutcomeKind = Literal["next_step", "resolved", "handoff", "not_understood"]
PathTaken = tuple[tuple[str, str], ...]


class SessionError(ValueError):
    """A session cannot be resumed or advanced (unknown guide or node, bad state, finished)."""


def option_payload(position: int) -> str:
    """Return the button payload for the option at 1-based ``position``."""
    return f"/{PAYLOAD_INTENT}" + json.dumps({"option": str(position)}, separators=(",", ":"))


def parse_payload(text: str) -> int | None:
    """Return the 1-based option position of a ``/diag_choose`` payload, ``None`` for other text."""
    found = _PAYLOAD.match(text.strip())
    if found is None or found.group(1) is None:
        return None
    try:
        entities = json.loads(found.group(1))
        position = int(entities["option"])
    except (ValueError, KeyError, TypeError):
        return None
    return position if position >= 1 else None


@dataclass(frozen=True)
class Button:
    """One option as a button: its title and the payload that selects it."""

    title: str
    payload: str


@dataclass(frozen=True)
class Step:
    """What to show the customer at the current node."""

    node_id: str
    kind: str
    text: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class StepOutcome:
    """Result of one answer.

    Attributes:
        kind: ``next_step``, ``resolved``, ``handoff`` or ``not_understood``.
        step: The step to show now (the new one, or the same one when not understood);
            ``None`` when the guide has ended.
        text: Closing text of the terminal node (``None`` for the built-in terminals,
            for which the bot uses its generic utterance).
        path: The path taken so far, as (node id, option title) pairs.
        device: The device category the customer chose, if asked.
        misses: Answers not understood in a row at the current step (the dialogue layer
            may offer an agent, via :meth:`DiagnosticSession.give_up`, after a few).
        corrected: The answer took back the previous step's answer ("sorry, I meant a mesh
            kit"): the session went back one step and took the option named instead.
    """

    kind: OutcomeKind
    step: Step | None
    text: str | None
    path: PathTaken
    device: str | None = None
    misses: int = 0
    corrected: bool = False

    @property
    def finished(self) -> bool:
        """Whether the guide has ended."""
        return self.kind in ("resolved", "handoff")


def _step(node: Node) -> Step:
    buttons = tuple(Button(o.title, option_payload(i)) for i, o in enumerate(node.options, start=1))
    return Step(node.id, node.kind, node.text, buttons)


class DiagnosticSession:
    """Where one customer is in one guide: guide, current node, path taken, device."""

    def __init__(self, tree: DiagnosticTree, node_id: str, path: PathTaken = (), device: str | None = None) -> None:
        """Place a session at ``node_id`` of ``tree``.

        Raises:
            SessionError: ``node_id`` is not a node of the guide.
        """
        try:
            tree.node(node_id)
        except KeyError:
            raise SessionError(f"guide '{tree.id}' has no node '{node_id}'") from None
        self.tree = tree
        self.node_id = node_id
        self.path = path
        self.device = device
        self.misses = 0

    @classmethod
    def start(cls, tree: DiagnosticTree) -> DiagnosticSession:
        """Begin ``tree`` at its start node."""
        return cls(tree, tree.start)

    @property
    def guide_id(self) -> str:
        """Id of the guide being walked."""
        return self.tree.id

    @property
    def node(self) -> Node:
        """The current node."""
        return self.tree.node(self.node_id)

    @property
    def finished(self) -> bool:
        """Whether the current node is a terminal."""
        return self.node.is_terminal

    def current_step(self) -> Step:
        """Return the text and buttons of the current node."""
        return _step(self.node)

    def answer(self, text_or_payload: str) -> StepOutcome:
        """Advance on a button payload or free text.

        Free text that matches no option of the current step but takes back the previous
        step's answer ("sorry, I meant a mesh kit", see :func:`match_correction`) goes back one
        step and takes the option named there instead. Other unmatched text yields
        ``not_understood`` and leaves the session where it was.

        Raises:
            SessionError: the guide has already ended.
        """
        node = self.node
        if node.is_terminal:
            raise SessionError(f"guide '{self.tree.id}' has already ended at '{node.id}'")
        position = parse_payload(text_or_payload)
        if position is not None:
            index: int | None = position - 1 if position <= len(node.options) else None
        else:
            index = match_option(text_or_payload, node.options)
            if index is None:
                corrected = self._correct(text_or_payload)
                if corrected is not None:
                    return corrected
        if index is None:
            self.misses += 1
            return StepOutcome("not_understood", _step(node), None, self.path, self.device, self.misses)
        return self._take(node, index)

    def previous_choice(self) -> tuple[Node, int | None] | None:
        """The step answered just before the current one and the index of the option taken there.

        ``None`` at the start; the index is ``None`` when the guide was edited and the option's
        title is gone.
        """
        if not self.path:
            return None
        node_id, title = self.path[-1]
        node = self.tree.nodes.get(node_id)
        if node is None:
            return None
        chosen = next((i for i, option in enumerate(node.options) if option.title == title), None)
        return node, chosen

    def _correct(self, text: str) -> StepOutcome | None:
        previous = self.previous_choice()
        if previous is None:
            return None
        node, chosen = previous
        index = match_correction(text, node.options, chosen)
        if index is None:
            return None
        self.path = self.path[:-1]
        self.node_id = node.id
        outcome = self._take(node, index)
        return dataclasses.replace(outcome, corrected=True)

    def _take(self, node: Node, index: int) -> StepOutcome:
        """Take option ``index`` of ``node`` (the current node) and report where it leads."""
        self.misses = 0
        option = node.options[index]
        if node.ask_device:
            self.device = option.value or option.title.lower()
        self.path = (*self.path, (node.id, option.title))
        self.node_id = option.next
        target = self.node
        if target.kind == "resolved":
            return StepOutcome("resolved", None, target.text or None, self.path, self.device)
        if target.kind == "handoff":
            return StepOutcome("handoff", None, target.text or None, self.path, self.device)
        return StepOutcome("next_step", _step(target), None, self.path, self.device)

    def take_opener(self, text: str) -> PathTaken:
        """Answer the questions that the customer's opening message already answers.

        From the current node (the start), while it is a question and the text names exactly
        one of its options by a mention (:func:`mentioned_option`), take that option, unless it
        would end the guide. Questions in the text are left out (:func:`statements`: "how much
        is the Mesh Trio?" is not the customer's device). Call it once, on a fresh session,
        with the message that started it.

        Returns:
            The (node id, option title) pairs taken; empty when the opener answered nothing.
        """
        text = statements(text)
        taken: list[tuple[str, str]] = []
        seen: set[str] = set()
        while not self.finished and self.node.kind == "question" and self.node_id not in seen:
            seen.add(self.node_id)
            node = self.node
            index = mentioned_option(text, node.options)
            if index is None or self.tree.node(node.options[index].next).is_terminal:
                break
            self._take(node, index)
            taken.append((node.id, node.options[index].title))
        return tuple(taken)

    def give_up(self) -> StepOutcome:
        """End the guide with a handoff now (the customer asked for a human, or is stuck).

        Raises:
            SessionError: the guide has already ended.
        """
        if self.finished:
            raise SessionError(f"guide '{self.tree.id}' has already ended at '{self.node_id}'")
        self.node_id = "handoff"
        self.misses = 0
        return StepOutcome("handoff", None, None, self.path, self.device)

    def to_dict(self) -> dict[str, Any]:
        """Return a small JSON-safe dict to keep in a Rasa slot."""
        return {
            "version": STATE_VERSION,
            "guide": self.tree.id,
            "node": self.node_id,
            "path": [[node_id, title] for node_id, title in self.path],
            "device": self.device,
            "misses": self.misses,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], guides: Mapping[str, DiagnosticTree]) -> DiagnosticSession:
        """Resume a session saved by :meth:`to_dict`.

        Raises:
            SessionError: the state is malformed or names an unknown guide or node.
        """
        if data.get("version") != STATE_VERSION:
            raise SessionError(f"unsupported session state version {data.get('version')!r}")
        tree = guides.get(str(data.get("guide")))
        if tree is None:
            raise SessionError(f"unknown guide {data.get('guide')!r}")
        raw_path = data.get("path", [])
        device = data.get("device")
        try:
            path = tuple((str(node_id), str(title)) for node_id, title in raw_path)
        except (TypeError, ValueError):
            raise SessionError("malformed path in session state") from None
        if device is not None and not isinstance(device, str):
            raise SessionError("malformed device in session state")
        misses = data.get("misses", 0)
        if not isinstance(misses, int) or misses < 0:
            raise SessionError("malformed misses count in session state")
        session = cls(tree, str(data.get("node")), path, device)
        session.misses = misses
        return session
