"""Which Slack message is the root of which handoff's thread, kept in a JSON file.

The mapping lives in memory and in ``<var_dir>/slack_threads.json``, rewritten atomically
(temporary file + rename) after every change, so a restarted gateway still knows where each
open handoff's thread is. One gateway replica owns the file; see docs/slack-agent-desk.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

#: Oldest entries are forgotten beyond this many threads (closed handoffs are never needed again).
MAX_THREADS = 5000


@dataclass(frozen=True)
class SlackThread:
    """Where a handoff's root message is: channel id and message ts."""

    channel: str
    ts: str


class SlackThreads:
    """Handoff id <-> Slack thread, durable across restarts."""

    def __init__(self, path: Path) -> None:
        """Keep the mapping in ``path`` (read by :meth:`load`)."""
        self._path = path
        self._by_handoff: dict[int, SlackThread] = {}
        self._by_ts: dict[tuple[str, str], int] = {}
        self._write_lock = asyncio.Lock()

    def load(self) -> None:
        """Read the file if it exists; a corrupt file is logged and ignored (threads are then unknown)."""
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            _LOGGER.warning("slack_desk.threads_unreadable path=%s error=%s", self._path, exc)
            return
        if not isinstance(raw, dict):
            return
        for key, value in raw.items():
            if key.isdigit() and isinstance(value, dict):
                channel, ts = value.get("channel"), value.get("ts")
                if isinstance(channel, str) and isinstance(ts, str):
                    self._remember(int(key), SlackThread(channel, ts))

    def _remember(self, handoff_id: int, thread: SlackThread) -> None:
        self._by_handoff[handoff_id] = thread
        self._by_ts[(thread.channel, thread.ts)] = handoff_id

    def get(self, handoff_id: int) -> SlackThread | None:
        """The thread of a handoff, if one was posted."""
        return self._by_handoff.get(handoff_id)

    def channels(self) -> set[str]:
        """The channel ids the desk has posted in (the agents' channel, as Slack names it)."""
        return {thread.channel for thread in self._by_handoff.values()}

    def handoff_for(self, channel: str, ts: str) -> int | None:
        """The handoff whose root message is ``ts`` in ``channel``."""
        return self._by_ts.get((channel, ts))

    async def add(self, handoff_id: int, thread: SlackThread) -> None:
        """Remember a new root message and persist the mapping."""
        self._remember(handoff_id, thread)
        while len(self._by_handoff) > MAX_THREADS:
            oldest = min(self._by_handoff)
            old = self._by_handoff.pop(oldest)
            self._by_ts.pop((old.channel, old.ts), None)
        async with self._write_lock:  # the snapshot is taken under the lock: the last write is the newest
            snapshot = {str(k): {"channel": v.channel, "ts": v.ts} for k, v in self._by_handoff.items()}
            await asyncio.to_thread(self._write, snapshot)

    def _write(self, snapshot: dict[str, dict[str, str]]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(json.dumps(snapshot, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._path)
