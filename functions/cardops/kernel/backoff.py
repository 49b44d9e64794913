"""Bounded retries with full jitter, shared by every optimistic-write retry loop.

Writers that lost a version race all re-read at once and collide again unless they spread out:
each retry waits a random time between 0 and an exponentially growing cap ("full jitter"). The
budget is small and bounded (a handful of tries, well under a second of sleep in total) so a
Lambda never spends its timeout here; after it the caller raises ``StoreUnavailable`` and the
message or request is retried later. The sleep and the random source are injectable so tests
never sleep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """``tries()`` yields up to ``attempts`` times, sleeping a jittered delay before each retry."""

    attempts: int = 6
    base_seconds: float = 0.025
    cap_seconds: float = 0.4
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    uniform: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("a backoff needs at least one attempt and non-negative delays")

    def delay(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based): uniform in [0, min(cap, base * 2**(retry-1)))."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** (retry - 1))
        return self.uniform() * ceiling

    def max_total_seconds(self) -> float:
        """The most this backoff can sleep in all: the bound a caller's timeout must leave room for."""
        return sum(min(self.cap_seconds, self.base_seconds * 2.0 ** (r - 1)) for r in range(1, self.attempts))

    def tries(self) -> Iterator[int]:
        """0, 1, ... ``attempts - 1``; before every one but the first, sleep with full jitter."""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.delay(attempt))
            yield attempt


#: the default for version-conflict retries (payments, refunds, ledger decisions, transactions)
CONFLICTS = Backoff()
