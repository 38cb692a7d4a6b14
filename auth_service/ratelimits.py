"""Limits on login and register attempts, and growing delays after failed passwords.

Failed passwords are counted per (client address, login): past a few, that address must wait
before it may try that login again, twice as long after each further failure. Nothing is
counted per login alone, so no address can lock anyone out: the owner, from an address that
has not been failing, still signs in at once (issue 13: a per-login lock was a denial of service).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request

from mychat.http import RateLimited
from mychat.ratelimit import RateLimiter

WINDOW_SECONDS = 60.0
# Failures from one address for one login that cost nothing; then 1 s, 2 s, 4 s ... up to the cap.
FREE_FAILURES = 3
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 900.0
# A (address, login) pair with no failure for this long starts again from zero.
FORGET_AFTER_SECONDS = 3600.0
MAX_TRACKED = 100_000


def client_address(request: Request) -> str:
    # Behind nginx, uvicorn's proxy_headers puts the real address in request.client.
    return request.client.host if request.client else "-"


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    blocked_until: float


class FailedLogins:
    """Growing delays per (address, login) after wrong passwords; a success forgets them."""

    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], _Failures] = {}

    def check(self, address: str, login: str) -> None:
        """429 with the seconds left while this address must wait before trying this login."""
        entry = self._failures.get((address, login))
        if entry is None:
            return
        wait = entry.blocked_until - time.monotonic()
        if wait > 0:
            raise RateLimited("Too many failed sign-ins from your address; try again later", wait)

    def failed(self, address: str, login: str) -> None:
        now = time.monotonic()
        key = (address, login)
        entry = self._failures.get(key)
        if entry is None or now - entry.last > FORGET_AFTER_SECONDS:
            if len(self._failures) >= MAX_TRACKED:
                self._forget_idle(now)
            entry = self._failures[key] = _Failures(0, now, now)
        entry.count += 1
        entry.last = now
        if entry.count > FREE_FAILURES:
            delay = FIRST_DELAY_SECONDS * 2 ** min(entry.count - FREE_FAILURES - 1, 30)
            entry.blocked_until = now + min(delay, MAX_DELAY_SECONDS)

    def succeeded(self, address: str, login: str) -> None:
        self._failures.pop((address, login), None)

    def _forget_idle(self, now: float) -> None:
        for key in [
            key
            for key, entry in self._failures.items()
            if now - entry.last > FORGET_AFTER_SECONDS or entry.blocked_until <= now
        ]:
            del self._failures[key]


class AttemptLimits:
    """`per_minute` attempts of each action from one address (and registrations per login)."""

    def __init__(self, per_minute: int) -> None:
        self._by_client = RateLimiter(per_minute, WINDOW_SECONDS)
        self._by_login = RateLimiter(per_minute, WINDOW_SECONDS)
        self.failed_logins = FailedLogins()

    def check_client(self, action: str, request: Request) -> None:
        self._raise_if_limited(self._by_client, f"{action}:{client_address(request)}")

    def check_login(self, action: str, login: str) -> None:
        self._raise_if_limited(self._by_login, f"{action}:{login.lower()}")

    @staticmethod
    def _raise_if_limited(limiter: RateLimiter, key: str) -> None:
        retry_after = limiter.retry_after(key)
        if retry_after > 0:
            raise RateLimited("Too many attempts, try again later", retry_after)
