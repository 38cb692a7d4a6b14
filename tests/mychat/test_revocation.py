"""The revocation follower on the in-process broker: sign-outs apply at once, also while the
first load of the revoked set is still failing, and leaving the block ends a load for good."""

from __future__ import annotations

import asyncio
import time

from mychat.broker.memory import MemoryBroker
from mychat.revocation import (
    RevokedMap,
    RevokedSessions,
    revocation_event,
    revocations_followed,
)


def expiring_in(seconds: float) -> float:
    return time.time() + seconds


async def until_revoked(revoked: RevokedSessions, session_id: str, within: float) -> None:
    async with asyncio.timeout(within):
        while not revoked.is_revoked(session_id):
            await asyncio.sleep(0.01)


async def test_a_sign_out_applies_while_the_first_load_still_fails() -> None:
    broker, revoked = MemoryBroker(), RevokedSessions()
    attempts = 0

    async def auth_not_answering() -> RevokedMap:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("auth_service is not up yet")

    async with revocations_followed(broker, revoked, auth_not_answering):
        await asyncio.sleep(0.05)
        await broker.publish(revocation_event(1, {"phone": expiring_in(60)}))
        await until_revoked(revoked, "phone", within=0.2)  # no wait for a load that works
    assert attempts >= 1


async def test_a_load_adds_to_what_events_brought_and_a_retry_comes_soon() -> None:
    broker, revoked = MemoryBroker(), RevokedSessions()
    calls: list[float] = []

    async def second_try_works() -> RevokedMap:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise ConnectionError("auth_service is not up yet")
        return {"tablet": expiring_in(60)}  # read before the phone's sign-out was committed

    async with revocations_followed(broker, revoked, second_try_works):
        await asyncio.sleep(0.02)  # the follower has subscribed; its first load failed
        await broker.publish(revocation_event(1, {"phone": expiring_in(60)}))
        await until_revoked(revoked, "tablet", within=1.0)
        assert revoked.is_revoked("phone")
    assert calls[1] - calls[0] < 0.5  # the first retry does not wait the full reload interval


async def test_leaving_the_block_ends_a_load_that_swallowed_its_cancellation() -> None:
    broker, revoked = MemoryBroker(), RevokedSessions()
    calls = 0

    async def hangs_then_fails_on_cancel() -> RevokedMap:
        # As a driver may: a cancelled call surfaces as an ordinary error, and the load's retry
        # loop would go on for good if nobody cancelled it again.
        nonlocal calls
        calls += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionError("connection lost") from None
        return {}

    async with asyncio.timeout(5):
        async with revocations_followed(broker, revoked, hangs_then_fails_on_cancel):
            await asyncio.sleep(0.05)
    assert calls == 1  # not retried once cancelled
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "revoked-load"]
