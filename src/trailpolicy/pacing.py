"""Client-side pacing for rate-limited APIs: a token bucket per lane, and retry backoff with jitter.

A service that allows N requests per second answers faster callers with throttling errors; each
one costs a wasted call and a backoff sleep. Pacing on the client at the documented rate makes
throttling the exception, so a run takes as long as its request count requires and no longer.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """At most ``rate`` acquisitions per second, ``burst`` of them back to back.

    The default burst of 1 spaces requests evenly, which also passes a service that counts
    requests in a sliding one-second window (the stricter reading of "N per second"); a bigger
    burst would let N requests plus a refill through within one second there. Threads that
    share a bucket reserve their slot under the lock and sleep outside it.
    """

    def __init__(self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is there; returns the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...): exponential, full jitter.

    Full jitter (a uniform draw below the exponential ceiling) spreads out clients that failed
    together, so they do not retry in lockstep and fail together again.
    """
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return (rng or random).uniform(0, ceiling)
