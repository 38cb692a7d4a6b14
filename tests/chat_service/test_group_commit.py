"""The group commit on its own (chat_service.group_commit): no database, a store that records."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from chat_service.group_commit import GroupCommit


class Interrupted(Exception):
    pass


class Recorder:
    """A store that keeps every group it was given; `gate` holds each call until opened."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def store(self, items: list[int]) -> Sequence[int | Exception]:
        self.groups.append(items)
        await self.gate.wait()
        if -1 in items:
            raise RuntimeError("the store failed")
        return [ValueError(item) if item < 0 else item * 10 for item in items]


def queue(recorder: Recorder, *, lanes: int = 2, max_group: int = 4) -> GroupCommit[int, int]:
    return GroupCommit(recorder.store, lanes=lanes, max_group=max_group, interrupted=Interrupted)


async def test_an_item_alone_is_stored_at_once() -> None:
    recorder = Recorder()
    assert await queue(recorder).submit(7) == 70
    assert recorder.groups == [[7]]


async def test_items_queued_behind_busy_lanes_share_groups_in_queue_order() -> None:
    recorder = Recorder()
    commit = queue(recorder, lanes=2, max_group=4)
    recorder.gate.clear()
    tasks = []
    for n in range(1, 13):
        tasks.append(asyncio.create_task(commit.submit(n)))
        await asyncio.sleep(0)
    recorder.gate.set()
    assert await asyncio.gather(*tasks) == [n * 10 for n in range(1, 13)]
    assert [n for group in recorder.groups for n in group] == list(range(1, 13))
    assert all(len(group) <= 4 for group in recorder.groups)
    assert len(recorder.groups) == commit.groups < 12


async def one_group_behind_a_busy_lane(recorder: Recorder, items: list[int]) -> list[object]:
    """Item 0 alone in the one lane, then `items` queued meanwhile: the outcome of each."""
    commit = queue(recorder, lanes=1)
    recorder.gate.clear()
    blocker = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0)
    grouped = [asyncio.create_task(commit.submit(n)) for n in items]
    await asyncio.sleep(0)
    recorder.gate.set()
    return list(await asyncio.gather(blocker, *grouped, return_exceptions=True))


async def test_an_exception_result_is_raised_to_its_caller_only() -> None:
    recorder = Recorder()
    outcomes = await one_group_behind_a_busy_lane(recorder, [1, -2, 3])
    assert outcomes[:2] == [0, 10]
    assert outcomes[3] == 30
    assert isinstance(outcomes[2], ValueError)
    assert recorder.groups == [[0], [1, -2, 3]]


async def test_a_failed_store_fails_its_whole_group() -> None:
    outcomes = await one_group_behind_a_busy_lane(Recorder(), [1, -1])
    assert outcomes[0] == 0
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes[1:])


async def test_a_caller_that_stops_waiting_drops_its_queued_item() -> None:
    recorder = Recorder()
    commit = queue(recorder, lanes=1)
    recorder.gate.clear()
    blocker = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0)
    dropped = asyncio.create_task(commit.submit(5))
    kept = asyncio.create_task(commit.submit(6))
    await asyncio.sleep(0)
    dropped.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dropped
    recorder.gate.set()
    assert list(await asyncio.gather(blocker, kept)) == [0, 60]
    assert recorder.groups == [[0], [6]]


async def test_a_cancelled_lane_interrupts_its_items_and_close_waits_for_lanes() -> None:
    recorder = Recorder()
    commit = queue(recorder, lanes=1)
    recorder.gate.clear()
    waiting = asyncio.create_task(commit.submit(1))
    while not recorder.groups:  # until the lane is storing
        await asyncio.sleep(0)
    (lane,) = commit.lanes
    lane.cancel()
    with pytest.raises(Interrupted):
        await waiting
    await commit.close()
    assert commit.lanes == set()
