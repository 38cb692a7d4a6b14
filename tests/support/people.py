"""People of the tests: one password, cheap hashing, unique nicknames, REST registration."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from auth_service.passwords import HashParameters
from tests.support.clients import bearer

PASSWORD = "correct horse battery"
# Cheap argon2 for tests: registration stays real, the suite stays fast.
FAST_HASHES = HashParameters(memory_cost=1024, time_cost=1)
REGISTER_PATH = "/mychat/api/auth/register"


@dataclass(frozen=True)
class Person:
    """A registered user as the REST API names them; the login is the nickname in lower case."""

    id: int
    nickname: str
    token: str

    @property
    def login(self) -> str:
        return self.nickname.lower()

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


def unique(name: str) -> str:
    """A nickname no other test on a shared server uses."""
    return f"{name}{secrets.token_hex(3)}"


async def register(
    client: httpx.AsyncClient,
    login: str = "alice",
    nickname: str = "Alice",
    password: str = PASSWORD,
) -> dict[str, Any]:
    """Register through the public endpoint and return its 200 body."""
    response = await client.post(
        REGISTER_PATH, json={"login": login, "password": password, "nickname": nickname}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def register_person(client: httpx.AsyncClient, nickname: str) -> Person:
    """Register `nickname` (login: the nickname in lower case) and return the person."""
    body = await register(client, nickname.lower(), nickname)
    return Person(body["user"]["id"], body["user"]["nickname"], body["token"])
