"""A background loop that does rounds of work, woken early when new work arrives (inbox and outbox workers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

_LOGGER = logging.getLogger(__name__)

#: How long :meth:`RoundWorker.close` waits for its tasks to stop.
CLOSE_TIMEOUT_S = 10.0


class RoundWorker:
    """Runs :meth:`_round` again and again: at once when woken, else after :meth:`_timeout` seconds.

    Each round starts per-key tasks kept in ``_busy`` (a conversation, a chat) so that one key is
    worked on by one task at a time; :meth:`close` cancels the loop and those tasks.
    """

    name = "worker"

    def __init__(self, poll_s: float) -> None:
        """Look for work at least every ``poll_s`` seconds."""
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._closing = False

    def _has_work(self) -> bool:
        """Whether there is anything to run (a worker without platforms never starts)."""
        return True

    async def _round(self) -> None:
        """One round: claim what is due and start tasks for it."""

    def _timeout(self) -> float:
        """Seconds to sleep after a round unless woken."""
        return self._poll_s

    @property
    def running(self) -> bool:
        """Whether the loop has been started and not closed."""
        return self._loop_task is not None

    def wake(self) -> None:
        """Look for work now."""
        self._wake.set()

    def start(self) -> None:
        """Start in the background."""
        if self._has_work() and self._loop_task is None:
            self._closing = False
            self._loop_task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        """Stop; work in progress is cancelled and its lease lets the next start take it back.

        The loop also stops by itself at its next turn: on Python 3.10 ``asyncio.wait_for`` can
        swallow a cancellation that arrives just as the wake-up event is set, and the loop would
        then run on (and ``close`` wait for ever) if the cancellation were the only signal.
        """
        self._closing = True
        self._wake.set()
        tasks = [t for t in (self._loop_task, *self._busy.values()) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
            for task in done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
            if pending:
                _LOGGER.warning("%s.close_timeout tasks=%d", self.name, len(pending))
        self._loop_task = None
        self._busy.clear()

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._round()
            except Exception:
                _LOGGER.exception("%s.round_failed", self.name)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.01, self._timeout()))
            self._wake.clear()
