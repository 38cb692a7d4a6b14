"""A per-process sliding-window rate limiter (nginx limits the topology's edge as well)."""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str, count: int = 1) -> float:
        """Record `count` hits for key; 0.0 when allowed, else the seconds until they would be
        (the whole window when `count` exceeds the limit itself)."""
        now = time.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        over = len(hits) + count - self.limit
        if over > 0:
            if count > self.limit:
                return self.window
            return self.window - (now - hits[over - 1])
        hits.extend([now] * count)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        for key in [
            k for k, hits in self._hits.items() if not hits or now - hits[-1] >= self.window
        ]:
            del self._hits[key]
