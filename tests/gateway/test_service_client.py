"""The gateway's service client against a network that drops a pooled connection once."""

from __future__ import annotations

import httpx
import pytest

from gateway.clients import ServiceClient, ServiceUnavailable


def flaky_network() -> tuple[httpx.AsyncClient, list[str]]:
    """The first request meets a connection the server just closed (the keep-alive race)."""
    attempts: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        if len(attempts) == 1:
            raise httpx.ReadError("connection closed by the service", request=request)
        return httpx.Response(200, json={"ok": True})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url="http://svc")
    return client, attempts


async def test_a_read_is_sent_again_after_a_dropped_connection() -> None:
    http, attempts = flaky_network()
    async with http:
        body = await ServiceClient(http, None, set()).call("GET", "/internal/chat-ids")
    assert body == {"ok": True}
    assert attempts == ["GET", "GET"]


async def test_a_write_is_never_repeated() -> None:
    http, attempts = flaky_network()
    async with http:
        with pytest.raises(ServiceUnavailable):
            await ServiceClient(http, None, set()).call("POST", "/internal/chats", json={})
    assert attempts == ["POST"]
