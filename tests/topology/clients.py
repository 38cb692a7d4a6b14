"""Clients of the running stack, all through nginx: REST as the seed's pages, GraphQL, and a
subscriber that reconnects and catches up as the web app does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from tests.support.clients import graphql
from tests.support.people import Person, register_person, unique
from tests.support.websocket import graphql_socket

MESSAGE_ADDED = """subscription($chatId: ID!, $after: ID) {
  messageAdded(chatId: $chatId, after: $after) { id databaseId text clientId }
}"""
SEND_MESSAGE = """mutation($chatId: ID!, $text: String!, $clientId: String) {
  sendMessage(chatId: $chatId, text: $text, clientId: $clientId) {
    __typename
    ... on SendMessagePayload { message { id databaseId text clientId } }
    ... on Error { error: message code }
  }
}"""
# What ends a connection for a subscriber: it then reconnects.
DISCONNECTS = (websockets.ConnectionClosed, websockets.InvalidHandshake, OSError, TimeoutError)


async def register(client: httpx.AsyncClient, name: str) -> Person:
    """A person with a nickname no other test on a shared stack uses."""
    return await register_person(client, unique(name))


async def create_chat_with(client: httpx.AsyncClient, owner: Person, *members: Person) -> int:
    response = await client.post("/mychat/api/chat/", json={"name": "Room"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    chat_id: int = response.json()["chat_id"]
    for member in members:
        added = await client.post(
            f"/mychat/api/chat/{chat_id}/add-user",
            json={"nickname": member.nickname},
            headers=owner.headers,
        )
        assert added.json()["status"] == "ok", added.text
    return chat_id


async def send_rest(client: httpx.AsyncClient, user: Person, chat_id: int, text: str) -> None:
    response = await client.post(
        f"/mychat/api/chat/{chat_id}/message", json={"text": text}, headers=user.headers
    )
    assert response.json()["status"] == "ok", response.text


async def history(client: httpx.AsyncClient, user: Person, chat_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/mychat/api/chat/{chat_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


async def global_chat_id(client: httpx.AsyncClient, user: Person, chat_id: int) -> str:
    data = await graphql(client, "{ chats { edges { node { id databaseId } } } }", {}, user.token)
    for edge in data["chats"]["edges"]:
        if edge["node"]["databaseId"] == chat_id:
            chat: str = edge["node"]["id"]
            return chat
    raise AssertionError(f"chat {chat_id} not in {data}")


@dataclass
class Subscriber:
    """messageAdded through nginx; on a lost connection, or a subscription ended by an error
    (a service down while it caught up), it subscribes again with `after:` the last message it
    saw, as the web app does."""

    ws_url: str
    user: Person
    chat_id: str
    after: str | None = None
    texts: list[str] = field(default_factory=list)
    database_ids: list[int] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    connections: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while True:
            try:
                async with graphql_socket(self.ws_url, token=self.user.token) as socket:
                    self.connections += 1
                    await socket.subscribe(
                        MESSAGE_ADDED, {"chatId": self.chat_id, "after": self.after}
                    )
                    self.subscribed.set()
                    while True:
                        message = await socket.next_payload(timeout=3600)
                        if message["type"] != "next" or "errors" in message["payload"]:
                            self.errors.append(message)
                            break
                        added = message["payload"]["data"]["messageAdded"]
                        self.texts.append(added["text"])
                        self.database_ids.append(added["databaseId"])
                        self.after = added["id"]
            except websockets.ConnectionClosed as closed:
                self.close_codes.append(closed.rcvd.code if closed.rcvd else None)
            except DISCONNECTS:
                self.close_codes.append(None)
            self.subscribed.clear()
            await asyncio.sleep(0.05)

    async def wait_for(self, count: int, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.texts) < count:
                await asyncio.sleep(0.02)


@asynccontextmanager
async def subscribed(*subscribers: Subscriber) -> AsyncIterator[None]:
    """The subscribers running (each subscribed once) for the body of the block."""
    tasks = [asyncio.create_task(s.run()) for s in subscribers]
    try:
        async with asyncio.timeout(15):
            for subscriber in subscribers:
                await subscriber.subscribed.wait()
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
