"""Commands per caller and relationship, limited: one participant flooding one relationship is slowed (429)
before they can slow anyone else.

A token bucket per (principal, role, relationship) in each API process (starting a relationship is not
limited: coordinators import whole cohorts): ``COMMAND_BURST`` commands at once,
refilled at ``COMMANDS_PER_MINUTE``. Beyond it: 429 with ``Retry-After`` (seconds until the next token), and
nothing is stored. Buckets are kept for the most recent 100,000 keys. With several processes each keeps its
own buckets, so a caller spread over all of them gets up to that many times the rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

KEYS_KEPT = 100_000


class CommandLimiter:
    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self._buckets: OrderedDict[Any, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def wait_needed(self, key: Any) -> float:
        """Take a token for ``key``: 0 if there was one, else the seconds until there is (nothing taken)."""
        if self.rate <= 0 or self.burst <= 0:
            return 0.0  # limiting switched off
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.rate
            while len(self._buckets) > KEYS_KEPT:
                self._buckets.popitem(last=False)
            return wait


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
