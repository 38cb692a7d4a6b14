"""A chat app and an auth app on the test's database, with users registered for real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from auth_service.app import create_app as create_auth_app
from chat_service.app import create_app as create_chat_app
from chat_service.endpoints import ChatResources
from mychat.broker import MemoryBroker
from mychat.service import ServiceResources
from mychat.settings import Settings
from mychat.tables import messages
from tests.support.clients import asgi_client
from tests.support.people import FAST_HASHES, Person, register_person

CHAT = "/mychat/api/chat"


@dataclass
class ChatHarness:
    """In-process clients for both services, and shortcuts for the common calls."""

    app: Starlette
    client: httpx.AsyncClient
    auth: httpx.AsyncClient
    broker: MemoryBroker

    @property
    def engine(self) -> AsyncEngine:
        """The chat app's engine for units of work."""
        res: ServiceResources = self.app.state.res
        return res.engine

    @property
    def autocommit_engine(self) -> AsyncEngine:
        """The chat app's engine for single-statement reads."""
        opened: ChatResources = self.app.state.chat_res
        return opened.autocommit_engine

    async def indexed(self) -> None:
        """Wait for the search rows of the messages sent so far (chat_service/indexing.py), as
        the search endpoint does; for tests that call chat_service.search directly."""
        opened: ChatResources = self.app.state.chat_res
        await opened.indexer.flush()

    async def message_count(self) -> int:
        """Messages stored in every chat."""
        async with self.autocommit_engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(messages)) or 0)

    async def register(self, nickname: str) -> Person:
        return await register_person(self.auth, nickname)

    async def create_chat(self, owner: Person, name: str = "Room", *members: Person) -> int:
        response = await self.client.post(f"{CHAT}/", json={"name": name}, headers=owner.headers)
        assert response.status_code == 200, response.text
        chat_id: int = response.json()["chat_id"]
        for member in members:
            await self.add_user(owner, chat_id, member)
        return chat_id

    async def add_user(self, actor: Person, chat_id: int, member: Person) -> None:
        response = await self.client.post(
            f"{CHAT}/{chat_id}/add-user", json={"nickname": member.nickname}, headers=actor.headers
        )
        assert response.status_code == 200, response.text

    async def send(self, sender: Person, chat_id: int, text: str, **extra: Any) -> dict[str, Any]:
        response = await self.client.post(
            f"{CHAT}/{chat_id}/message", json={"text": text, **extra}, headers=sender.headers
        )
        assert response.status_code == 200, response.text
        message: dict[str, Any] = response.json()["message"]
        return message

    async def mark_read(
        self, reader: Person, chat_id: int, message_id: int, status: int = 200
    ) -> dict[str, Any]:
        """One mark through POST /internal/read-markers: its answer (the error's with `status`)."""
        mark = {"token": reader.token, "chat_id": chat_id, "message_id": message_id}
        response = await self.client.post("/internal/read-markers", json={"marks": [mark]})
        assert response.status_code == 200, response.text
        [answer] = response.json()["results"]
        assert answer.get("status", 200) == status, answer
        result: dict[str, Any] = answer
        return result

    async def history(self, reader: Person, chat_id: int, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get(f"{CHAT}/{chat_id}", params=params, headers=reader.headers)
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()
        return messages


@pytest.fixture(params=["mariadb", "sqlite"])
def chat_settings(request: pytest.FixtureRequest) -> Settings:
    """The same tests on MariaDB and on the embedded mode's SQLite."""
    settings: Settings = request.getfixturevalue(
        "settings" if request.param == "mariadb" else "sqlite_settings"
    )
    # Bulk tests send far more than a person would; the limit itself has its own test.
    return settings.model_copy(update={"send_rate_per_minute": 100_000})


@asynccontextmanager
async def running_harness(
    settings: Settings, *, embedded: bool = False
) -> AsyncIterator[ChatHarness]:
    """Both apps with their lifespans entered; the chat app publishes to a broker we watch."""
    broker = MemoryBroker()
    auth_app = create_auth_app(settings, embedded=embedded, hash_parameters=FAST_HASHES)
    chat_app = create_chat_app(settings, broker=broker, embedded=embedded)
    async with (
        auth_app.router.lifespan_context(auth_app),
        chat_app.router.lifespan_context(chat_app),
        asgi_client(chat_app) as client,
        asgi_client(auth_app) as auth,
    ):
        yield ChatHarness(chat_app, client, auth, broker)


@pytest.fixture
async def harness(chat_settings: Settings) -> AsyncIterator[ChatHarness]:
    async with running_harness(chat_settings, embedded=chat_settings.is_sqlite) as running:
        yield running


@pytest.fixture
async def alice(harness: ChatHarness) -> Person:
    return await harness.register("Alice")


@pytest.fixture
async def bob(harness: ChatHarness) -> Person:
    return await harness.register("Bob")


@pytest.fixture
async def carol(harness: ChatHarness) -> Person:
    return await harness.register("Carol")
