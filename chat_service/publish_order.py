"""Each chat's events published in the order their transactions took the chat's lock.

The send lanes (chat_service.group_commit) store groups concurrently, and each publishes its
events after its COMMIT. Two groups writing to the same chat are serialised by the chat's row
lock, so the second has the higher ids; but its publish could overtake the first's, and a
subscriber would see ids out of order (a client resuming with `after:` its highest id seen
would then skip the late one). A group takes a `Ticket` for its chats as soon as it holds their
locks, and publishes only after every earlier ticket for any of those chats has published (or
given up). Groups of unrelated chats do not wait for each other.

Per process: sends of one chat through two chat_service processes are not ordered by this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(eq=False)
class Ticket:
    chat_ids: tuple[int, ...]
    earlier: tuple[asyncio.Future[None], ...]
    done: asyncio.Future[None]


class PublishOrder:
    def __init__(self) -> None:
        self._last: dict[int, asyncio.Future[None]] = {}  # per chat: the newest ticket's

    def take(self, chat_ids: Iterable[int]) -> Ticket:
        """Called with the chats' locks held (so in their commit order)."""
        chats = tuple(chat_ids)
        done = asyncio.get_running_loop().create_future()
        earlier = tuple({id(f): f for c in chats if (f := self._last.get(c)) is not None}.values())
        for chat_id in chats:
            self._last[chat_id] = done
        return Ticket(chats, earlier, done)

    async def wait_turn(self, ticket: Ticket) -> None:
        """Until every earlier ticket of these chats has published or given up."""
        for future in ticket.earlier:
            await asyncio.shield(future)

    def release(self, ticket: Ticket) -> None:
        """Published, or nothing to publish (always called, also on failure)."""
        if not ticket.done.done():
            ticket.done.set_result(None)
        for chat_id in ticket.chat_ids:
            if self._last.get(chat_id) is ticket.done:
                del self._last[chat_id]
