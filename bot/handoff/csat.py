"""Customer satisfaction after a resolved handoff: reading the score."""

from __future__ import annotations

import re

_SCORE = re.compile(r"(?<![\d.])(\d{1,2})(?:\s*(?:/|out of)\s*5)?(?![\d.])")


def parse_score(entity: object, text: str) -> int | None:
    """The score 1-5 from the button's ``score`` entity, else from the text ("4 stars", "5/5").

    Returns:
        The score, or ``None`` when there is none or it is out of range.
    """
    candidates: list[str] = []
    if entity is not None:
        candidates.append(str(entity).strip())
    found = _SCORE.search(text or "") if not text.lstrip().startswith("/") else None
    if found:
        candidates.append(found.group(1))
    for candidate in candidates:
        if candidate.isdigit() and 1 <= int(candidate) <= 5:
            return int(candidate)
    return None
