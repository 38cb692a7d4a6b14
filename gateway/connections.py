"""The gateway's open WebSockets by session, and the "last used" time of sessions.

A signed-out session's sockets are closed with 4403 the moment the revocation reaches this
process (mychat.revocation calls `sessions_revoked`); its subscriptions end with them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from contextlib import suppress

from starlette.websockets import WebSocket

from gateway.background import BackgroundTasks
from gateway.clients import AccountClient, ServiceError, ServiceUnavailable
from mychat.tokens import TokenClaims

log = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
# A session's "last used" is written at most this often per gateway process.
TOUCH_EVERY_SECONDS = 60.0
MAX_REMEMBERED_TOUCHES = 100_000


class ConnectionWatcher:
    """What else wants to know when a user's WebSocket opens or closes (presence)."""

    def connected(self, claims: TokenClaims, token: str) -> None: ...

    def disconnected(self, claims: TokenClaims) -> None: ...


class OpenConnections:
    def __init__(self) -> None:
        self._by_session: dict[str, set[WebSocket]] = {}
        self._closing = BackgroundTasks()
        self.watcher = ConnectionWatcher()

    def opened(self, claims: TokenClaims, token: str, websocket: WebSocket) -> None:
        if claims.session_id:
            self._by_session.setdefault(claims.session_id, set()).add(websocket)
        self.watcher.connected(claims, token)

    def closed(self, claims: TokenClaims, websocket: WebSocket) -> None:
        sockets = self._by_session.get(claims.session_id)
        if sockets is not None:
            sockets.discard(websocket)
            if not sockets:
                del self._by_session[claims.session_id]
        self.watcher.disconnected(claims)

    def sessions_revoked(self, session_ids: Collection[str]) -> None:
        for session_id in session_ids:
            for websocket in self._by_session.pop(session_id, ()):
                self._closing.start(_close_forbidden(websocket))

    async def aclose(self) -> None:
        await self._closing.drain()


async def _close_forbidden(websocket: WebSocket) -> None:
    # Already closing or gone: nothing to do (the server refuses a second close).
    with suppress(RuntimeError, OSError):
        await websocket.close(CLOSE_FORBIDDEN, "Session ended")


class SessionTouches:
    """Tells auth_service that a session was used, at most once a minute per session."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._touching = BackgroundTasks()

    def used(self, claims: TokenClaims, account: Callable[[], AccountClient]) -> None:
        session_id = claims.session_id
        if not session_id:
            return
        now = time.monotonic()
        last = self._last.get(session_id)
        if last is not None and now - last < TOUCH_EVERY_SECONDS:
            return
        if len(self._last) >= MAX_REMEMBERED_TOUCHES:
            self._last.clear()
        self._last[session_id] = now
        self._touching.start(_touch(account()))

    async def aclose(self) -> None:
        await self._touching.drain()


async def _touch(client: AccountClient) -> None:
    try:
        await client.touch_session()
    except (ServiceError, ServiceUnavailable) as error:  # only "last used" is late
        log.info("could not record a session's use: %s", error)
