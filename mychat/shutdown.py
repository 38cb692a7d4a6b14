"""Graceful shutdown: stop accepting, close WebSockets with 1012, finish requests in flight.

On SIGTERM the server stops accepting and closes every WebSocket with 1012 (Service Restart)
from the app's side at once, so the subscription handlers end and clients reconnect right away
(through nginx, to another gateway) and catch up from their cursor; then uvicorn's own shutdown
lets the HTTP requests in flight finish (`timeout_graceful_shutdown`). The worst case,
GOODBYE_GRACE_SECONDS + uvicorn's timeout, stays within compose's `stop_grace_period`.
(Waiting for the requests before the goodbye was tried: one slow request then delayed every
client's reconnect, which the browser test of a server restart showed.)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from contextlib import suppress
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

SERVICE_RESTART = 1012
# How long open WebSocket handlers get to end after the goodbye, before uvicorn's own shutdown.
GOODBYE_GRACE_SECONDS = 2.0
STARTUP_FAILURE = 3  # uvicorn's exit code when the server could not start


class _TrackedWebSocket:
    """One WebSocket's send channel, shared by the app and the shutdown goodbye."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self._accepted = False
        self._closed = False

    async def send(self, message: Message) -> None:
        async with self._lock:
            if self._closed:
                return  # after the goodbye, the app's late frames have nowhere to go
            if message["type"] == "websocket.accept":
                self._accepted = True
            elif message["type"] == "websocket.close":
                self._closed = True
            await self._send(message)

    async def going_away(self) -> None:
        async with self._lock:
            if self._closed or not self._accepted:
                return  # a pending handshake is refused by uvicorn's own shutdown
            self._closed = True
            # uvicorn also hands the app a websocket.disconnect, so its handler ends.
            await self._send(
                {"type": "websocket.close", "code": SERVICE_RESTART, "reason": "server restarting"}
            )


class WebSocketGoodbye:
    """ASGI middleware that knows every open WebSocket and can close them all with 1012."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._open: set[_TrackedWebSocket] = set()
        self._none_open = asyncio.Event()
        self._none_open.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        tracked = _TrackedWebSocket(send)
        self._open.add(tracked)
        self._none_open.clear()
        try:
            await self.app(scope, receive, tracked.send)
        finally:
            self._open.discard(tracked)
            if not self._open:
                self._none_open.set()

    async def close_all(self, grace: float = GOODBYE_GRACE_SECONDS) -> None:
        sockets = tuple(self._open)
        if not sockets:
            return
        logger.info("closing %d websocket(s) with 1012", len(sockets))
        # A client that vanished raises here; that socket is gone anyway.
        await asyncio.gather(*(s.going_away() for s in sockets), return_exceptions=True)
        with suppress(TimeoutError):  # handlers still running are uvicorn's to cancel
            await asyncio.wait_for(self._none_open.wait(), grace)


class GracefulServer(uvicorn.Server):
    """uvicorn's server with the WebSocket goodbye between "stop accepting" and the rest."""

    def __init__(self, config: uvicorn.Config, goodbye: WebSocketGoodbye) -> None:
        super().__init__(config)
        self._goodbye = goodbye

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while we say goodbye
        await self._goodbye.close_all()
        await super().shutdown(sockets)


def graceful_server(app: ASGIApp, **config: Any) -> GracefulServer:
    """A GracefulServer for `app`; `config` takes uvicorn.Config's keyword arguments."""
    goodbye = WebSocketGoodbye(app)
    return GracefulServer(uvicorn.Config(goodbye, **config), goodbye)


def run_gracefully(app: ASGIApp, **config: Any) -> None:
    """Like uvicorn.run(app, **config) for one process, with the 1012 goodbye on shutdown."""
    server = graceful_server(app, **config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
