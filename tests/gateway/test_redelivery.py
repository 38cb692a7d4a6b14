"""A message published twice (a retried send replays and publishes its stored message again)
reaches each subscriber once, on both subscriptions."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.gateway.conftest import SEND, LiveServer
from tests.support.websocket import TRANSPORT_WS, graphql_socket

MESSAGE_ADDED = """subscription($chatId: ID!, $after: ID) {
  messageAdded(chatId: $chatId, after: $after) { id text } }"""
CHAT_EVENTS = """subscription($after: ID) { chatEvents(after: $after) {
  __typename ... on MessageAdded { message { id text } } } }"""


@pytest.mark.parametrize("document", [MESSAGE_ADDED, CHAT_EVENTS])
async def test_a_republished_message_is_delivered_once(live: LiveServer, document: str) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    # From a first message on: whether the subscription hears the sends live or reads them in
    # its catch-up (a loaded machine), each arrives once.
    after = (await gw.send(alice, chat_id, "first"))["id"]
    async with graphql_socket(live.ws_url, TRANSPORT_WS, token=bob.token) as ws:
        variables = {"after": after} | ({"chatId": chat_id} if "chatId" in document else {})
        await ws.subscribe(document, variables)
        await asyncio.sleep(0.2)  # usually listening by now (there is no ack for that)
        client_id = str(uuid.uuid4())
        for _ in range(2):  # the retry replays the stored message and publishes it again
            variables = {"chatId": chat_id, "text": "once", "clientId": client_id}
            sent = (await gw.data(SEND, variables, alice.token))["sendMessage"]
            assert sent["__typename"] == "SendMessagePayload"
        await gw.send(alice, chat_id, "twice")
        texts = []
        for _ in range(2):
            data = (await ws.next_payload())["payload"]["data"]
            added = data.get("messageAdded") or data["chatEvents"]["message"]
            texts.append(added["text"])
        with pytest.raises(TimeoutError):
            await ws.next_payload(timeout=0.3)
    assert texts == ["once", "twice"]
