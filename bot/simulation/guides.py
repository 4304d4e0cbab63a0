"""Walking a troubleshooting guide the way a customer does: answer each step it shows, towards an ending.

The walker reads the step the bot showed (its text among the reply's texts), then picks, with
the conversation's random generator, one of the options from which the wanted ending
(``resolved`` or ``handoff``) can still be reached. The guides are read from
``data/diagnostics`` (:func:`bot.diagnostics.load_guides`), so an edited guide is walked as it is.
"""

from __future__ import annotations

import functools
import random

from bot.diagnostics import DiagnosticTree, Node
from bot.diagnostics.engine import option_payload
from bot.diagnostics.matching import match_option
from bot.simulation.transport import Reply


class GuideWalker:
    """Which step of one guide a reply shows, and which answer leads towards an ending."""

    def __init__(self, tree: DiagnosticTree) -> None:
        """Walk ``tree``."""
        self.tree = tree

    def shown(self, reply: Reply) -> Node | None:
        """The guide's step the reply shows, or None (the guide ended, paused or never started)."""
        texts = {text.strip() for text in reply.texts}
        return next(
            (node for node in self.tree.nodes.values() if not node.is_terminal and node.text.strip() in texts), None
        )

    def choose(self, node: Node, ending: str, rng: random.Random) -> int | None:
        """The 0-based index of an option of ``node`` from which ``ending`` can be reached (random among them)."""
        leading = [i for i, option in enumerate(node.options) if self._reaches(option.next, ending)]
        return leading[rng.randrange(len(leading))] if leading else None

    def answer(self, node: Node, index: int, rng: random.Random, typed_share: float = 0.15) -> tuple[str, str] | str:
        """The button (title, payload) of option ``index``; sometimes a typed synonym (a str) that selects it."""
        option = node.options[index]
        typed = [s for s in option.synonyms if not s.strip().isdigit() and match_option(s, node.options) == index]
        if typed and rng.random() < typed_share:
            return typed[rng.randrange(len(typed))]
        return option.title, option_payload(index + 1)

    @functools.cache  # noqa: B019 (one walker per guide for the whole run)
    def _reaches(self, node_id: str, ending: str, seen: frozenset[str] = frozenset()) -> bool:
        node = self.tree.node(node_id)
        if node.is_terminal:
            return node.kind == ending
        if node_id in seen:
            return False
        return any(self._reaches(option.next, ending, seen | {node_id}) for option in node.options)
