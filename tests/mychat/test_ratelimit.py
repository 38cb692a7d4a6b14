from __future__ import annotations

from mychat.ratelimit import RateLimiter


def test_allows_up_to_the_limit_then_says_how_long_to_wait() -> None:
    limiter = RateLimiter(limit=3, window_seconds=60)
    assert [limiter.retry_after("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.retry_after("k")
    assert 59 < wait <= 60
    assert limiter.retry_after("other") == 0.0


def test_window_slides() -> None:
    limiter = RateLimiter(limit=1, window_seconds=0.0)
    assert limiter.retry_after("k") == 0.0
    assert limiter.retry_after("k") == 0.0


def test_idle_keys_are_forgotten_when_full() -> None:
    limiter = RateLimiter(limit=1, window_seconds=0.0, max_keys=2)
    for key in ("a", "b", "c", "d"):
        assert limiter.retry_after(key) == 0.0
    assert len(limiter._hits) <= 2
