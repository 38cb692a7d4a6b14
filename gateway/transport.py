"""How the gateway reaches a service: over HTTP (topology) or by calling its ASGI app (embedded).

Both answer a request with the status and the raw body; the typed clients in clients.py sit on
top. The HTTP side is aiohttp: measured against the same loopback service, httpx cost ~1.2 ms
of CPU per request under 16 concurrent calls (its connection pool and anyio layers), aiohttp
~80 us (bench/PROFILE.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

import aiohttp
from starlette.types import ASGIApp, Message

Params = Mapping[str, str | int]
TIMEOUT = aiohttp.ClientTimeout(total=10.0, connect=3.0)
MAX_CONNECTIONS = 100
# Idle connections are closed well before the services' keep-alive timeout (30 s, see
# assembly/cli.py), so the gateway rarely reuses one the server is closing.
KEEPALIVE_SECONDS = 10.0


class TransportError(Exception):
    """The service could not be reached, or did not answer in time."""


class ConnectionDropped(TransportError):
    """A pooled connection closed before any answer (the keep-alive race): a read may be sent
    again; a write may not, it could have been applied."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


class ServiceTransport(Protocol):
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply: ...

    async def aclose(self) -> None: ...


class HttpTransport:
    """Keep-alive HTTP/1.1 to one service's base URL."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")
        connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=TIMEOUT, auto_decompress=False
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        sent_headers = dict(headers or {})
        if body is not None:
            sent_headers["content-type"] = "application/json"
        try:
            async with self._session.request(
                method, self._base_url + path, params=params, data=body, headers=sent_headers
            ) as response:
                return Reply(response.status, await response.read())
        except aiohttp.ServerDisconnectedError as error:
            raise ConnectionDropped(f"connection closed by the service: {error}") from error
        except aiohttp.ClientConnectorError as error:
            raise TransportError(f"cannot connect: {error}") from error
        except aiohttp.ClientOSError as error:  # e.g. reset on a pooled connection
            raise ConnectionDropped(f"connection lost: {error}") from error
        except TimeoutError as error:
            raise TransportError("timed out") from error
        except aiohttp.ClientError as error:
            raise TransportError(f"{type(error).__name__}: {error}") from error

    async def aclose(self) -> None:
        await self._session.close()


class InProcessTransport:
    """Calls the service's ASGI app directly (embedded mode: one process, no sockets).

    The caller's address the gateway forwards becomes the request's client, as uvicorn's
    proxy headers make it for a service run on its own.
    """

    def __init__(self, app: ASGIApp, host: str) -> None:
        self._app = app
        self._host = host

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        headers = headers or {}
        raw_headers = [(b"host", self._host.encode())]
        raw_headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
        if body is not None:
            raw_headers.append((b"content-type", b"application/json"))
            raw_headers.append((b"content-length", str(len(body)).encode()))
        forwarded = headers.get("x-forwarded-for")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode(params or {}).encode(),
            "root_path": "",
            "headers": raw_headers,
            "client": (forwarded.strip() if forwarded else "127.0.0.1", 0),
            "server": (self._host, 80),
        }
        exchange = _Exchange(body or b"")
        try:
            await self._app(scope, exchange.receive, exchange.send)
        except Exception as error:  # the service's own handlers answer 500; this is a crash
            raise TransportError(f"in-process call failed: {type(error).__name__}") from error
        if not exchange.status:
            raise TransportError("the service sent no response")
        return Reply(exchange.status, b"".join(exchange.chunks))

    async def aclose(self) -> None:
        return None


class _Exchange:
    """One request's receive/send pair: the body once, then a disconnect after the response."""

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body
        self._done = asyncio.Event()
        self.status = 0
        self.chunks: list[bytes] = []

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self._done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._done.set()
