"""Background work of an agent desk: one ordered chain of jobs per handoff, cancelled on shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

_LOGGER = logging.getLogger(__name__)


class HandoffJobs:
    """Runs each handoff's jobs one after another (in submission order); handoffs run side by side."""

    def __init__(self) -> None:
        """Start with nothing queued."""
        self._jobs: set[asyncio.Task[None]] = set()
        self._tails: dict[int, asyncio.Task[None]] = {}

    def submit(self, handoff_id: int, job: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``job`` after the handoff's earlier jobs; its errors are logged, never raised."""
        previous = self._tails.get(handoff_id)

        async def run() -> None:
            if previous is not None:
                await asyncio.wait({previous})
            try:
                await job()
            except Exception:
                _LOGGER.exception("agent_desk.job_failed job=%s handoff=%d", what, handoff_id)

        task = asyncio.get_running_loop().create_task(run())
        self._jobs.add(task)
        self._tails[handoff_id] = task

        def done(finished: asyncio.Task[None]) -> None:
            self._jobs.discard(finished)
            if self._tails.get(handoff_id) is finished:
                del self._tails[handoff_id]

        task.add_done_callback(done)

    async def drain(self) -> None:
        """Wait until every submitted job (and any job those submit) is done."""
        while self._jobs:
            await asyncio.gather(*list(self._jobs), return_exceptions=True)

    async def close(self) -> None:
        """Cancel pending jobs and wait for them to finish."""
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
