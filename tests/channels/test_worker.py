"""bot/channels/worker.py: the round loop of the inbox and outbox workers stops when closed."""

from __future__ import annotations

import asyncio

from bot.channels.worker import RoundWorker


class Counting(RoundWorker):
    """Counts its rounds."""

    name = "counting"

    def __init__(self) -> None:
        super().__init__(poll_s=0.01)
        self.rounds = 0

    async def _round(self) -> None:
        self.rounds += 1


class Stubborn(Counting):
    """A round that swallows the cancellation, as ``asyncio.wait_for`` on Python 3.10 can."""

    async def _round(self) -> None:
        self.rounds += 1
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass


async def test_a_started_worker_runs_rounds_and_close_stops_it() -> None:
    worker = Counting()
    worker.start()
    await asyncio.sleep(0.1)
    assert worker.running and worker.rounds > 1
    await asyncio.wait_for(worker.close(), 5)
    assert not worker.running
    rounds = worker.rounds
    await asyncio.sleep(0.05)
    assert worker.rounds == rounds


async def test_close_returns_even_when_the_cancellation_is_lost() -> None:
    worker = Stubborn()
    worker.start()
    await asyncio.sleep(0.02)  # inside a round
    await asyncio.wait_for(worker.close(), 5)  # before: waited for ever
    assert not worker.running


async def test_a_closed_worker_can_start_again() -> None:
    worker = Counting()
    worker.start()
    await worker.close()
    worker.start()
    await asyncio.sleep(0.05)
    assert worker.running and worker.rounds > 0
    await worker.close()
