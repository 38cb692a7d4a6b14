"""A benchmark viewer behaving as the web app's open chat: it marks the chat read.

`MarkReader` is web/src/views/chatView.js's `markRead` in Python: on every new message, at
most one `markRead` mutation every 2 s (the first at once, then the newest when due), never
twice for the same message, over HTTP to the viewer's gateway with the web app's own MARK_READ
document. It remembers the highest message it has marked and that the server acknowledged.

Its requests go through an aiohttp session (`mark_session`) shared by the viewers of a
subscriber process. Not httpx: httpx's pool (httpcore) re-scans every queued request against
every connection each time a request starts or ends, so with hundreds of viewers' marks queued
for its connections the load generator spent ~85% of its CPU there (py-spy, 1,000 viewers) and
fell minutes behind the server; aiohttp's connector queues waiters in O(1).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

MARK_READ_EVERY_SECONDS = 2.0  # MARK_READ_EVERY_MS in chatView.js
# Connections of a subscriber process's session (its viewers' marks share them), and how long
# one mark may take before it counts as failed.
MARK_CONNECTIONS = 128
MARK_TIMEOUT_SECONDS = 60.0


def mark_session() -> aiohttp.ClientSession:
    """The HTTP session a subscriber process's viewers mark read through."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MARK_CONNECTIONS, limit_per_host=0),
        timeout=aiohttp.ClientTimeout(total=MARK_TIMEOUT_SECONDS),
    )


@dataclass
class MarkSpec:
    """How viewers mark read: where (connection i posts to urls[i % len(urls)]), and what."""

    urls: list[str]
    document: str
    chat_id: str
    every_seconds: float = MARK_READ_EVERY_SECONDS


@dataclass
class MarkState:
    marks: int = 0
    failures: int = 0
    # databaseId of the newest message a markRead was acknowledged for (0: none).
    acknowledged: int = 0
    # databaseIds of marks whose answer never came (timed out, connection lost): the server
    # may have applied them, so the viewer's count may follow any of them.
    unanswered: list[int] = field(default_factory=list)
    first_error: str | None = None


@dataclass
class MarkReader:
    client: aiohttp.ClientSession
    url: str
    token: str
    spec: MarkSpec
    state: MarkState = field(default_factory=MarkState)
    newest: tuple[str, int] | None = None  # (Message id, databaseId) of the newest message
    last_mark_at: float = -1e9
    last_marked: str | None = None
    timer: asyncio.TimerHandle | None = None
    stopped: bool = False
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)

    def message(self, message_id: str, database_id: int) -> None:
        if self.newest is None or database_id > self.newest[1]:
            self.newest = (message_id, database_id)
        self.mark()

    def mark(self) -> None:
        newest = self.newest
        if self.stopped or newest is None or newest[0] == self.last_marked:
            return
        wait = self.last_mark_at + self.spec.every_seconds - time.monotonic()
        if wait > 0:
            if self.timer is None:
                self.timer = asyncio.get_running_loop().call_later(wait, self._due)
            return
        self.last_mark_at = time.monotonic()
        self.last_marked = newest[0]
        task = asyncio.ensure_future(self._send(*newest))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    def _due(self) -> None:
        self.timer = None
        self.mark()

    async def _send(self, message_id: str, database_id: int) -> None:
        body = {
            "query": self.spec.document,
            "variables": {"chatId": self.spec.chat_id, "messageId": message_id},
        }
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self.client.post(self.url, json=body, headers=headers) as answer:
                payload: Any = await answer.json(content_type=None)
            if payload["data"]["markRead"]["__typename"] != "MarkReadPayload":
                raise RuntimeError(str(payload)[:300])
        except (
            aiohttp.ClientError,
            TimeoutError,
            RuntimeError,
            KeyError,
            TypeError,
            ValueError,
        ) as error:
            self.state.failures += 1
            self.state.first_error = self.state.first_error or f"{type(error).__name__}: {error}"
            if isinstance(error, aiohttp.ClientError | TimeoutError):
                self.state.unanswered.append(database_id)
            self.last_marked = None  # as the web app: try again with the next change
            return
        self.state.marks += 1
        self.state.acknowledged = max(self.state.acknowledged, database_id)

    async def stop(self) -> None:
        """Mark no more; wait for the marks in flight."""
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.in_flight:
            await asyncio.gather(*self.in_flight, return_exceptions=True)
