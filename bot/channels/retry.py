"""How long the inbox and the outbox keep trying: capped exponential backoff for a day, then a dead letter.

A platform that answers 5xx for an hour, or a dialogue server being redeployed, must not cost a
customer their message: an event or a reply is retried with waits of 0.5 s, 1 s, 2 s, ... up to
``cap_s`` between attempts, until the waits add up to ``give_up_after``. What still fails is set
aside as a *dead letter* (state ``dead``): agents see it (``GET /api/v1/dead-letters``), can send
it again, and the metrics count it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

#: The state of an inbox event or outbox reply that was given up (agents can retry it).
DEAD = "dead"


@dataclass(frozen=True)
class RetryPolicy:
    """Waits between attempts and when to stop."""

    base_s: float = 0.5
    cap_s: float = 900.0
    give_up_after: dt.timedelta = dt.timedelta(hours=24)
    jitter: float = 0.2

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1, 2, ...), without jitter."""
        return min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1))

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt``, with ±``jitter`` so retries do not stampede."""
        return self.backoff(attempt) * random.uniform(1 - self.jitter, 1 + self.jitter)

    def exhausted(self, attempts: int) -> bool:
        """Whether ``attempts`` failed attempts have waited ``give_up_after`` in all (then: a dead letter)."""
        waited = 0.0
        limit = self.give_up_after.total_seconds()
        for attempt in range(1, attempts + 1):
            waited += self.backoff(attempt)
            if waited >= limit:
                return True
        return False


DEFAULT_POLICY = RetryPolicy()
