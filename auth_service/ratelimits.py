"""Limits on login and register attempts, per client address and per login."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mychat.http import ApiError, JSONResponse
from mychat.ratelimit import RateLimiter

WINDOW_SECONDS = 60.0


class RateLimited(ApiError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(429, "rate_limited", "Too many attempts, try again later")
        self.retry_after = max(1, math.ceil(retry_after))

    def body(self) -> dict[str, Any]:
        return {**super().body(), "retry_after": self.retry_after}


async def rate_limited_handler(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RateLimited)
    return JSONResponse(
        error.body(), status_code=429, headers={"Retry-After": str(error.retry_after)}
    )


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
            raise RateLimited(retry_after)
