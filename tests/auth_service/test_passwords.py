"""The password hasher on its own: argon2id, constant-ish failures, rehash decisions."""

from __future__ import annotations

import asyncio

from argon2 import extract_parameters

from auth_service.passwords import HashParameters, Passwords

FAST = HashParameters(memory_cost=8192, time_cost=1)


async def test_hash_and_verify() -> None:
    passwords = Passwords()
    stored = await passwords.hash("correct horse battery")
    parameters = extract_parameters(stored)
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (19456, 2, 1)
    assert await passwords.verify(stored, "correct horse battery")
    assert not await passwords.verify(stored, "correct horse batterY")
    assert not passwords.needs_rehash(stored)


async def test_unknown_user_never_verifies() -> None:
    passwords = Passwords(FAST)
    # Even the dummy hash's own password cannot be guessed, and None never matches.
    assert not await passwords.verify(None, "anything at all")
    assert not await passwords.verify(None, "")


async def test_corrupt_hash_is_a_failed_login_and_gets_rehashed() -> None:
    passwords = Passwords(FAST)
    assert not await passwords.verify("not a hash", "whatever1")
    assert not await passwords.verify("$argon2id$v=19$m=8192,t=1,p=1$broken", "whatever1")
    assert passwords.needs_rehash("not a hash")


async def test_weaker_parameters_need_a_rehash() -> None:
    old = await Passwords(FAST).hash("correct horse battery")
    assert Passwords().needs_rehash(old)
    assert await Passwords().verify(old, "correct horse battery")


async def test_hashing_does_not_block_the_event_loop() -> None:
    passwords = Passwords()
    hashing = asyncio.create_task(passwords.hash("correct horse battery"))
    ticks = 0
    while not hashing.done():
        await asyncio.sleep(0.001)
        ticks += 1
    await hashing
    # argon2 ran in a worker thread: the loop kept turning meanwhile (~1 tick if it blocked).
    assert ticks >= 5
