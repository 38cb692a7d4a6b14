"""The gateway over real auth and chat apps on the test's MariaDB, in-process or on a socket."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from assembly.embedded import PrefixDispatcher
from auth_service.app import create_app as create_auth_app
from chat_service.app import create_app as create_chat_app
from gateway.app import create_app as create_gateway_app
from mychat.broker import MemoryBroker
from mychat.settings import Settings
from mychat.ws_protocol import LeanHttpProtocol, LeanWebSocketProtocol
from tests.support.clients import GRAPHQL_PATH, asgi_client, graphql, graphql_body
from tests.support.people import FAST_HASHES, PASSWORD
from tests.support.ports import free_port, serving

GRAPHQL = GRAPHQL_PATH

REGISTER = """
mutation Register($login: String!, $password: String!, $nickname: String!) {
  register(login: $login, password: $password, nickname: $nickname) {
    __typename
    ... on AuthPayload { token expiresAt user { id login nickname } }
    ... on Error { message code }
    ... on ValidationError { field }
    ... on Conflict { field }
  }
}
"""
CREATE_CHAT = """
mutation Create($name: String!, $members: [String!]) {
  createChat(name: $name, memberNicknames: $members) {
    __typename
    ... on CreateChatPayload { chat { id databaseId name myRole members { user { nickname } } } }
    ... on Error { message code }
  }
}
"""
SEND = """
mutation Send($chatId: ID!, $text: String!, $clientId: String) {
  sendMessage(chatId: $chatId, text: $text, clientId: $clientId) {
    __typename
    ... on SendMessagePayload { message { id databaseId text clientId sender { nickname } } }
    ... on Error { error: message code }
  }
}
"""


class CountingApp:
    """A real service app, with every HTTP call the gateway makes to it counted by path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.calls[scope["path"]] += 1
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class User:
    id: str
    nickname: str
    token: str


@dataclass
class Gateway:
    client: httpx.AsyncClient
    auth_calls: Counter[str]
    chat_calls: Counter[str]
    settings: Settings
    users: dict[str, User] = field(default_factory=dict)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return await graphql_body(self.client, query, variables, token)

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return await graphql(self.client, query, variables, token)

    async def register(self, nickname: str) -> User:
        variables = {"login": nickname.lower(), "password": PASSWORD, "nickname": nickname}
        result = (await self.data(REGISTER, variables))["register"]
        assert result["__typename"] == "AuthPayload", result
        user = User(result["user"]["id"], nickname, result["token"])
        self.users[nickname] = user
        return user

    async def create_chat(self, owner: User, name: str = "Room", *members: User) -> str:
        variables = {"name": name, "members": [member.nickname for member in members]}
        result = (await self.data(CREATE_CHAT, variables, owner.token))["createChat"]
        assert result["__typename"] == "CreateChatPayload", result
        chat_id: str = result["chat"]["id"]
        return chat_id

    async def alice_and_bob_in_a_room(self) -> tuple[User, User, str]:
        """Alice and Bob registered, and the id of the chat "Room" that Alice made with Bob."""
        alice = await self.register("Alice")
        bob = await self.register("Bob")
        return alice, bob, await self.create_chat(alice, "Room", bob)

    async def send(self, sender: User, chat_id: str, text: str) -> dict[str, Any]:
        result = (await self.data(SEND, {"chatId": chat_id, "text": text}, sender.token))[
            "sendMessage"
        ]
        assert result["__typename"] == "SendMessagePayload", result
        message: dict[str, Any] = result["message"]
        return message


def service_settings(settings: Settings) -> Settings:
    # Generous limits: tests send hundreds of messages from one user.
    return settings.model_copy(update={"send_rate_per_minute": 100_000})


@asynccontextmanager
async def composed(
    settings: Settings,
    broker: MemoryBroker | None = None,
    chat_in_front: Callable[[ASGIApp], ASGIApp] | None = None,
) -> AsyncIterator[tuple[Starlette, CountingApp, CountingApp]]:
    """auth + chat + gateway as in embedded mode (one MemoryBroker, this one if given: more
    gateways may share it), lifespans entered. `chat_in_front` wraps chat_service as the
    gateway sees it (to put faults on its path)."""
    broker = MemoryBroker() if broker is None else broker
    auth = CountingApp(
        create_auth_app(settings, embedded=True, hash_parameters=FAST_HASHES, broker=broker)
    )
    chat = CountingApp(create_chat_app(settings, broker=broker, embedded=True))
    chat_app: ASGIApp = chat if chat_in_front is None else chat_in_front(chat)
    gateway = create_gateway_app(settings, auth_app=auth, chat_app=chat_app, broker=broker)
    async with AsyncExitStack() as stack:
        await broker.start()
        stack.push_async_callback(broker.close)
        for app in (auth.app, chat.app, gateway):
            assert isinstance(app, Starlette)
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield gateway, auth, chat


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with (
        composed(service_settings(settings)) as (app, auth, chat),
        asgi_client(app) as client,
    ):
        yield Gateway(client, auth.calls, chat.calls, settings)


@dataclass
class LiveServer:
    """uvicorn on a free port serving the embedded-style composition; `gateway` drives HTTP."""

    port: int
    gateway: Gateway
    broker: MemoryBroker
    app: Starlette  # the gateway's (its `state.gateway` holds the process's resources)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{GRAPHQL}"

    @asynccontextmanager
    async def subscribing(self, count: int = 1) -> AsyncIterator[None]:
        """Around starting `count` subscriptions: on leaving, each is listening to the broker
        (so an event published from now on reaches it). The protocols acknowledge no start."""
        before = self.broker.subscriptions
        yield
        async with asyncio.timeout(10):
            while self.broker.subscriptions < before + count:
                await asyncio.sleep(0.005)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[LiveServer]:
    async with serve_live(settings) as server:
        yield server


@asynccontextmanager
async def serve_live(
    settings: Settings,
    *,
    ws_max_size: int = 64 * 1024,
    chat_in_front: Callable[[ASGIApp], ASGIApp] | None = None,
) -> AsyncIterator[LiveServer]:
    broker = MemoryBroker()
    async with composed(service_settings(settings), broker, chat_in_front) as (app, auth, chat):
        dispatcher = PrefixDispatcher(
            [("/mychat/api/auth", auth), ("/mychat/api/chat", chat), (GRAPHQL, app)],
            fallback=app,
        )
        port = free_port()
        async with (
            serving(
                dispatcher,
                port,
                lifespan="off",
                ws_max_size=ws_max_size,
                ws=LeanWebSocketProtocol,
                http=LeanHttpProtocol,
                timeout_graceful_shutdown=1,
            ) as base_url,
            httpx.AsyncClient(base_url=base_url) as client,
        ):
            gateway = Gateway(client, auth.calls, chat.calls, settings)
            yield LiveServer(port, gateway, broker, app)
