"""Where a push channel delivers a conversation's messages (stored as ``conversations.address``).

An address is a small JSON object naming the platform and its chat:

* Telegram: ``{"platform": "telegram", "chat_id": 123}``
* Slack: ``{"platform": "slack", "team": "T…", "channel": "C…|D…", "thread_ts": "…" | None}``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def chat_key(address: Mapping[str, Any]) -> str:
    """The unit a platform rate-limits and orders by: a Telegram chat, a Slack channel."""
    platform = str(address.get("platform", ""))
    if platform == "telegram":
        return f"telegram:{address.get('chat_id')}"
    if platform == "slack":
        return f"slack:{address.get('team', '')}:{address.get('channel')}"
    return f"{platform}:{address.get('chat', '')}"
