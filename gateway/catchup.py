"""Bookkeeping for catch-up plus live delivery: which message ids a subscription has yielded."""

from __future__ import annotations

import heapq

SEEN_WINDOW = 5000
# Past the window, this many of the smallest ids go at once (the floor rises to the largest).
SEEN_EVICTED = 500


class SeenIds:
    """Ids already yielded: everything up to `floor`, plus a bounded set of recent ids.

    A set rather than a high-water mark, because two senders' commits (and so their events)
    can arrive out of id order; bounded so long-lived subscriptions keep little. Built for many
    idle subscribers: no set until an id is added (a live-only subscription that has seen
    nothing holds none), and no second structure for the order: the smallest ids leave first.
    """

    __slots__ = ("_ids", "floor", "highest")

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.highest = floor
        self._ids: set[int] | None = None

    def __contains__(self, message_id: int) -> bool:
        return message_id <= self.floor or (self._ids is not None and message_id in self._ids)

    def add(self, message_id: int) -> None:
        ids = self._ids
        if ids is None:
            ids = self._ids = set()
        ids.add(message_id)
        if message_id > self.highest:
            self.highest = message_id
        if len(ids) > SEEN_WINDOW:
            evicted = heapq.nsmallest(SEEN_EVICTED, ids)
            ids.difference_update(evicted)
            self.floor = max(self.floor, evicted[-1])
