"""Low NLU confidence: how many in a row, and which intents to offer as "did you mean ...?"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FALLBACK_INTENT = "nlu_fallback"
HUMAN_INTENT = "request_human"
CLARIFY_ACTION = "action_clarify"


def _intent(event: Mapping[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def low_confidence_streak(events: Sequence[Mapping[str, Any]], clarify_action: str = CLARIFY_ACTION) -> int:
    """How many customer messages in a row, up to the latest, the NLU did not understand.

    The latest message counts when its intent is ``nlu_fallback``; an earlier one counts when
    it was ``nlu_fallback`` *and* answered by ``clarify_action`` (a message not understood
    inside a troubleshooting guide went to the guide, and does not count). Any understood
    message ends the streak.
    """
    streak = 0
    next_action: str | None = None
    latest = True
    for event in reversed(events):
        kind = event.get("event")
        if kind == "action":
            next_action = event.get("name")
        elif kind == "user":
            if _intent(event) != FALLBACK_INTENT or (not latest and next_action != clarify_action):
                break
            streak += 1
            latest = False
            next_action = None
    return streak


def clarify_options(parse_data: Mapping[str, Any], titles: Mapping[str, str], limit: int = 2) -> list[tuple[str, str]]:
    """(title, payload) of the ``limit`` most likely intents that have a button title.

    ``nlu_fallback`` and ``request_human`` are skipped (the person button is added separately).
    """
    options: list[tuple[str, str]] = []
    for item in parse_data.get("intent_ranking") or []:
        name = item.get("name") if isinstance(item, Mapping) else None
        if not name or name in (FALLBACK_INTENT, HUMAN_INTENT) or name not in titles:
            continue
        options.append((titles[name], f"/{name}"))
        if len(options) == limit:
            break
    return options
