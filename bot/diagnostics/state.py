"""The ``diag_active`` slot: what the dialogue keeps of the running guide, and what the policy reads there.

The value is a :meth:`DiagnosticSession.to_dict` plus the guide's intent and title, the
current step's options and, once a step was answered, the options of that step, so that the
dialogue policy can tell an answer or a correction from an unrelated question without loading
the guides. Options are kept as ``[title, [phrase, ...]]`` pairs (synonyms and mentions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.diagnostics.engine import DiagnosticSession
from bot.diagnostics.matching import match_correction, match_option
from bot.diagnostics.model import Option

State = dict[str, Any]


def _option_items(options: Sequence[Option]) -> list[list[Any]]:
    return [[option.title, list(option.phrases)] for option in options]


def active_state(session: DiagnosticSession) -> State:
    """Serialise a running session for the ``diag_active`` slot.

    Besides the session, the state carries the current step's options (``options``) and,
    once a step was answered, the options of that step (``previous``), as ``[title,
    [phrase, ...]]`` pairs: enough for the policy to recognise an answer or a correction.
    """
    node = session.node
    state = session.to_dict()
    state["intent"] = session.tree.intent
    state["title"] = session.tree.title
    state["options"] = _option_items(node.options)
    previous = session.previous_choice()
    if previous is not None:
        state["previous"] = _option_items(previous[0].options)
    return state


def _options(items: Any) -> tuple[Option, ...]:
    options: list[Option] = []
    for item in items or []:
        try:
            title, synonyms = item
            options.append(Option(title=str(title), next="", synonyms=tuple(str(s) for s in synonyms)))
        except (TypeError, ValueError):
            continue
    return tuple(options)


def current_options(active: Mapping[str, Any] | None) -> tuple[Option, ...]:
    """Rebuild the current step's options from a ``diag_active`` value (for matching only)."""
    return _options(active.get("options")) if active else ()


def corrects_previous(active: Mapping[str, Any] | None, text: str) -> bool:
    """Whether ``text`` takes back the previous step's answer for another of its options.

    For the dialogue policy, from the ``diag_active`` value alone: no match among the current
    step's options, and a correction (:func:`match_correction`: "sorry, I meant a mesh kit")
    naming another option of the step answered just before.
    """
    if not active or match_option(text, current_options(active)) is not None:
        return False
    previous = _options(active.get("previous"))
    path = active.get("path") or []
    if not previous or not path or not isinstance(path[-1], list | tuple) or len(path[-1]) != 2:
        return False
    chosen = next((i for i, option in enumerate(previous) if option.title == str(path[-1][1])), None)
    return match_correction(text, previous, chosen) is not None
