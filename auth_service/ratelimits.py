"""Limits on login and register attempts, per client address and per login."""

from __future__ import annotations

from starlette.requests import Request

from mychat.http import RateLimited
from mychat.ratelimit import RateLimiter

WINDOW_SECONDS = 60.0


class AttemptLimits:
    """`per_minute` attempts of each action from one address and against one login."""

    def __init__(self, per_minute: int) -> None:
        self._by_client = RateLimiter(per_minute, WINDOW_SECONDS)
        self._by_login = RateLimiter(per_minute, WINDOW_SECONDS)

    def check_client(self, action: str, request: Request) -> None:
        # Behind nginx, uvicorn's proxy_headers puts the real address in request.client.
        client = request.client.host if request.client else "-"
        self._raise_if_limited(self._by_client, f"{action}:{client}")

    def check_login(self, action: str, login: str) -> None:
        self._raise_if_limited(self._by_login, f"{action}:{login.lower()}")

    @staticmethod
    def _raise_if_limited(limiter: RateLimiter, key: str) -> None:
        retry_after = limiter.retry_after(key)
        if retry_after > 0:
            raise RateLimited("Too many attempts, try again later", retry_after)
