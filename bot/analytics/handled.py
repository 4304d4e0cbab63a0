"""What took care of a customer turn in Rasa's tracker store: the next action after it.

A message the language model did not place (``nlu_fallback``) is not always one the bot failed:
inside a guide it is a typed answer to the step ("white", "already tried that"), inside a form
a value (a return reason, an address). Only a turn the bot answered with its clarification or
fallback went not understood. Rasa's own triggers ("EXTERNAL: handoff_resolved") are no
customer turns at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

#: Actions that mean the bot did not understand the turn.
NOT_UNDERSTOOD_ACTIONS = frozenset({"action_clarify", "action_default_fallback", "utter_default"})
#: What a turn the language model could not place was, by the action that took it.
STEP_ACTION = "action_diagnostic_step"
EXTERNAL_PREFIX = "EXTERNAL:"
_LOOKAHEAD = 50


def is_trigger(text: str | None) -> bool:
    """Whether a "user" event is one of Rasa's triggered intents, not a customer's message."""
    return isinstance(text, str) and text.startswith(EXTERNAL_PREFIX)


def next_actions(connection: sa.Connection, rows: Sequence[Any]) -> dict[int, str]:
    """For each user row (``id``, ``sender_id``), the name of the first action after it (not ``action_listen``)."""
    if not rows:
        return {}
    first, last = min(int(r.id) for r in rows), max(int(r.id) for r in rows)
    actions = connection.execute(
        sa.text(
            "SELECT id, sender_id, action_name FROM events WHERE type_name = 'action' "
            "AND action_name <> 'action_listen' AND id > :first AND id <= :last ORDER BY id"
        ),
        {"first": first, "last": last + _LOOKAHEAD * len(rows)},
    ).all()
    by_sender: dict[str, list[tuple[int, str]]] = {}
    for action in actions:
        by_sender.setdefault(str(action.sender_id), []).append((int(action.id), str(action.action_name)))
    found: dict[int, str] = {}
    for row in rows:
        after = next((name for aid, name in by_sender.get(str(row.sender_id), []) if aid > int(row.id)), None)
        if after is not None:
            found[int(row.id)] = after
    return found


def taken_as(intent: str | None, action: str | None) -> str | None:
    """The intent a turn counts as: a not-placed message a guide or a form took is a step answer or a value."""
    if intent != "nlu_fallback" or action is None or action in NOT_UNDERSTOOD_ACTIONS:
        return intent
    if action == STEP_ACTION:
        return "diag_choose"
    if action.endswith("_form") or action.startswith("validate_"):
        return "form_value"
    return intent
