"""A circuit breaker: stop calling a record system that keeps failing, try again later."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.records.backend import RecordsUnavailable

_LOGGER = logging.getLogger(__name__)

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failed calls -> half-open after ``reset_after_s``.

    While open, :meth:`before_call` raises :class:`RecordsUnavailable` at once (no request is
    made). After ``reset_after_s`` one trial call is let through (half-open): its success
    closes the circuit, its failure opens it for another ``reset_after_s``. Other calls made
    while the trial is in flight fail fast. Single event loop; not thread-safe.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a closed breaker; ``clock`` is injectable for tests."""
        if failure_threshold < 1 or reset_after_s <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_after_s > 0")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (an open breaker past its reset time reads half_open)."""
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_after_s:
            return HALF_OPEN
        return self._state

    def before_call(self) -> None:
        """Let a call through, or raise :class:`RecordsUnavailable` when the circuit is open."""
        state = self.state
        if state == CLOSED:
            return
        if state == HALF_OPEN and not self._trial_in_flight:
            self._state = HALF_OPEN
            self._trial_in_flight = True
            _LOGGER.info("records.circuit_half_open")
            return
        raise RecordsUnavailable("the record system is unavailable (circuit open)")

    def record_success(self) -> None:
        """The call got an answer: close the circuit."""
        if self._state != CLOSED:
            _LOGGER.info("records.circuit_closed")
        self._state = CLOSED
        self._failures = 0
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """The call failed: count it, and open the circuit at the threshold or after a failed trial."""
        self._failures += 1
        if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
            if self._state != OPEN:
                _LOGGER.warning("records.circuit_open failures=%d", self._failures)
            self._state = OPEN
            self._opened_at = self._clock()
        self._trial_in_flight = False
