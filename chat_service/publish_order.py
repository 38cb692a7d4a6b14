"""Each chat's events published in the order their transactions took the chat's lock.

The send lanes (chat_service.group_commit) store groups concurrently, and each publishes its
events after its COMMIT. Two groups writing to the same chat are serialised by the chat's row
lock, so the second has the higher ids; but its publish could overtake the first's, and a
subscriber would see ids out of order (a client resuming with `after:` its highest id seen
would then skip the late one). A group takes a `Ticket` for its chats as soon as it holds their
locks, and publishes only after every earlier ticket for any of those chats has published (or
given up). Groups of unrelated chats do not wait for each other.

Per process: sends of one chat through two chat_service processes are not ordered by this.

Publishes are combined: a group whose turn has not come leaves its events in a queue, and
whoever is publishing sends every group that has become ready in one call, in ticket order (a
group joins a batch once each of its earlier tickets is released or earlier in the batch). On
one chat under load each group waited for the previous group's publish and then published
alone, one group per Redis round trip; the senders waited for that chain, fewer of them were
queued when a lane took its next group, and the groups shrank from ~9 to ~6 sends
(bench/PROFILE.md, "Issue 11's last rule").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass(eq=False)
class Ticket:
    chat_ids: tuple[int, ...]
    earlier: tuple[asyncio.Future[None], ...]
    done: asyncio.Future[None]


@dataclass(eq=False)
class _Waiting(Generic[Item]):
    ticket: Ticket
    items: list[Item]
    published: asyncio.Future[None]


class PublishOrder(Generic[Item]):
    """Tickets per chat, and the queue of groups waiting to publish; `send` publishes a batch
    (it must not raise: a failure to publish is its own to log)."""

    def __init__(self, send: Callable[[list[Item]], Awaitable[None]]) -> None:
        self._send = send
        self._last: dict[int, asyncio.Future[None]] = {}  # per chat: the newest ticket's
        self._waiting: list[_Waiting[Item]] = []  # in the order they asked to publish
        self._publishing = False
        self._drains: set[asyncio.Task[None]] = set()

    def take(self, chat_ids: Iterable[int]) -> Ticket:
        """Called with the chats' locks held (so in their commit order)."""
        chats = tuple(chat_ids)
        done = asyncio.get_running_loop().create_future()
        earlier = tuple({id(f): f for c in chats if (f := self._last.get(c)) is not None}.values())
        for chat_id in chats:
            self._last[chat_id] = done
        return Ticket(chats, earlier, done)

    async def publish(self, ticket: Ticket, items: list[Item]) -> None:
        """Publish `items` after every earlier ticket of these chats has published or given
        up; returns once they are published (by this call or by the one publishing then)."""
        waiting = _Waiting(ticket, items, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if not self._publishing:
            await self._drain()
        await asyncio.shield(waiting.published)

    def release(self, ticket: Ticket) -> None:
        """Published, or nothing to publish (always called, also on failure or cancellation:
        items of the ticket still waiting are dropped, as they were never sent)."""
        if not ticket.done.done():
            ticket.done.set_result(None)
        for chat_id in ticket.chat_ids:
            if self._last.get(chat_id) is ticket.done:
                del self._last[chat_id]
        dropped = [w for w in self._waiting if w.ticket is ticket]
        for waiting in dropped:
            self._waiting.remove(waiting)
            if not waiting.published.done():
                waiting.published.cancel()
        self._wake()

    def _wake(self) -> None:
        """A ticket was released: groups waiting for it may go, if nobody is publishing. (Two
        drains at once would still keep each chat's order: a group is taken into a batch only
        once its earlier tickets are released, which happens after their batch is sent.)"""
        if self._publishing or not any(
            all(f.done() for f in waiting.ticket.earlier) for waiting in self._waiting
        ):
            return
        drain = asyncio.get_running_loop().create_task(self._drain(), name="publish-order")
        self._drains.add(drain)
        drain.add_done_callback(self._drains.discard)

    def _ready(self) -> list[_Waiting[Item]]:
        """The waiting groups whose turn has come, in an order that keeps every chat's."""
        batch: list[_Waiting[Item]] = []
        in_batch: set[int] = set()
        added = True
        while added:
            added = False
            for waiting in list(self._waiting):
                if all(f.done() or id(f) in in_batch for f in waiting.ticket.earlier):
                    self._waiting.remove(waiting)
                    batch.append(waiting)
                    in_batch.add(id(waiting.ticket.done))
                    added = True
        return batch

    async def _drain(self) -> None:
        self._publishing = True
        try:
            while batch := self._ready():
                try:
                    await self._send([item for waiting in batch for item in waiting.items])
                finally:  # sent, or cancelled mid-way: either way their turn has passed
                    for waiting in batch:
                        if not waiting.published.done():
                            waiting.published.set_result(None)
                        self.release(waiting.ticket)
        finally:
            self._publishing = False
            self._wake()
