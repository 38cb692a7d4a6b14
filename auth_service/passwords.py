"""argon2id password hashing, off the event loop, with a constant-ish time for unknown users."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

log = logging.getLogger(__name__)

# Hashes computed at once: each argon2 call holds `memory_cost` KiB and a CPU core.
MAX_CONCURRENT_HASHES = 4


@dataclass(frozen=True, slots=True)
class HashParameters:
    """OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane."""

    memory_cost: int = 19456  # KiB
    time_cost: int = 2
    parallelism: int = 1


class Passwords:
    """Hash, verify and decide on rehashing; every argon2 call runs in a worker thread."""

    def __init__(self, parameters: HashParameters | None = None) -> None:
        p = parameters or HashParameters()
        self._hasher = PasswordHasher(
            time_cost=p.time_cost,
            memory_cost=p.memory_cost,
            parallelism=p.parallelism,
            type=Type.ID,
        )
        # Created lazily: both need a running event loop, and nothing is built at import.
        self._limiter: anyio.CapacityLimiter | None = None
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await self._in_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if password matches; None (unknown user) still pays for one verification."""
        target = stored_hash if stored_hash is not None else await self._dummy()
        try:
            await self._in_thread(self._hasher.verify, target, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            log.warning("a stored password hash could not be verified (corrupt or unknown format)")
            return False
        return stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    async def _dummy(self) -> str:
        # Verified against when the login is unknown, so both failures take about as long.
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(24))
        return self._dummy_hash

    async def _in_thread(self, function: Callable[..., object], *args: str) -> str:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(MAX_CONCURRENT_HASHES)
        result = await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)
        return str(result)
