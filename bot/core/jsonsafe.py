r"""Parsing JSON from strangers: size and nesting limits checked before parsing, text that cannot be stored refused.

``json.loads`` recurses once per nesting level, so a body of 10,000 ``[`` ends in a
``RecursionError`` (a 500) instead of a clear refusal, and JSON may carry unpaired UTF-16
surrogates (``"\\ud800"``) that no database can store. :func:`loads` refuses both with
:class:`UnsafeJson`, a ``ValueError``, before anything else sees the data.
"""

from __future__ import annotations

import json
from typing import Any

#: Deeper than any request or frame of ours (the Telegram and Slack payloads nest about 6 levels).
MAX_DEPTH = 32


class UnsafeJson(ValueError):
    """The document is too large, too deeply nested, not JSON, or holds text that cannot be encoded.

    ``parsed`` is the document when it was valid JSON but held unstorable text (so a caller can
    still say which message it refuses).
    """

    def __init__(self, reason: str, parsed: Any = None) -> None:
        """Refuse for ``reason``."""
        super().__init__(reason)
        self.parsed = parsed


def nesting_depth(raw: str) -> int:
    """How deeply arrays and objects nest in ``raw`` (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def is_encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no unpaired surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not is_encodable(item):
                raise UnsafeJson("text holds an unpaired surrogate", value)
        elif isinstance(item, dict):
            for key, inner in item.items():
                stack.append(key)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


def loads(raw: str | bytes, *, max_bytes: int = 64 * 1024, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``raw`` like ``json.loads``, within the limits.

    Raises:
        UnsafeJson: larger than ``max_bytes``, nested deeper than ``max_depth``, not valid
            UTF-8 or JSON, or with a string that cannot be encoded.
    """
    if len(raw) > max_bytes:
        raise UnsafeJson(f"larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise UnsafeJson("not UTF-8") from None
    if nesting_depth(text) > max_depth:
        raise UnsafeJson(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise UnsafeJson("not valid JSON") from None
    _check_strings(value)
    return value
