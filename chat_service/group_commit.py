"""Group commit: items queued by many callers are handed to a store function in groups.

Knows nothing of SQL. A caller `submit`s an item and waits for its result. Up to `lanes` groups
are stored at once; a lane takes everything queued (up to `max_group` items), calls
`store(group)` and hands each caller its result; items that arrive meanwhile wait for the next
free lane. Alone, an item starts a lane at once (no waiting for company); under load the groups
grow by themselves, so one transaction's round trips and commit are shared by many items.

An exception among the results is raised to its caller. If `store` raises, every item of its
group gets that exception. A caller that stops waiting (cancelled) drops its item if no lane has
taken it yet; an item already being stored is stored anyway, as if its answer got lost. If a
lane itself is cancelled (the loop is closing), its items get `interrupted()`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Pending(Generic[Item, Result]):
    item: Item
    answer: asyncio.Future[Result] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, outcome: Result | BaseException) -> None:
        if self.answer.done():  # its caller stopped waiting
            return
        if isinstance(outcome, BaseException):
            self.answer.set_exception(outcome)
        else:
            self.answer.set_result(outcome)


class GroupCommit(Generic[Item, Result]):
    """A queue that hands groups of items to `store` (one result or exception per item, in
    order)."""

    def __init__(
        self,
        store: Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]],
        *,
        lanes: int,
        max_group: int,
        interrupted: Callable[[], BaseException],
        name: str = "group-commit",
    ) -> None:
        self._store = store
        self._lanes_max = lanes
        self._max_group = max_group
        self._interrupted = interrupted
        self._name = name
        self._queue: deque[_Pending[Item, Result]] = deque()
        self.lanes: set[asyncio.Task[None]] = set()  # running now (tests cancel one)
        self.groups = 0  # stored so far (tests check that items share them)

    async def submit(self, item: Item) -> Result:
        pending: _Pending[Item, Result] = _Pending(item)
        self._queue.append(pending)
        if len(self.lanes) < self._lanes_max:  # else a busy lane will take it
            lane = asyncio.create_task(self._lane(), name=self._name)
            self.lanes.add(lane)
            lane.add_done_callback(self.lanes.discard)
        return await pending.answer

    async def close(self) -> None:
        """Wait for the groups in flight (the callers of their items are waiting too)."""
        while self.lanes:
            await asyncio.wait(set(self.lanes))

    async def _lane(self) -> None:
        while group := self._next_group():
            await self._store_and_answer(group)

    def _next_group(self) -> list[_Pending[Item, Result]]:
        group: list[_Pending[Item, Result]] = []
        while self._queue and len(group) < self._max_group:
            pending = self._queue.popleft()
            if not pending.answer.done():  # not cancelled while it waited
                group.append(pending)
        return group

    async def _store_and_answer(self, group: list[_Pending[Item, Result]]) -> None:
        self.groups += 1
        try:
            results = await self._store([pending.item for pending in group])
        except Exception as error:  # the store's: every item of the group failed
            for pending in group:
                pending.settle(error)
            return
        except BaseException:  # the lane itself is cancelled (the loop is closing)
            for pending in group:
                pending.settle(self._interrupted())
            raise
        for pending, result in zip(group, results, strict=True):
            pending.settle(result)
