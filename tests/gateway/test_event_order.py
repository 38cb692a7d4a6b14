"""Each chat's events arrive in id order under concurrent senders (the send lanes publish in each
chat's lock order, chat_service.publish_order), so a subscriber that drops at any moment and
resumes with `after:` its highest id seen gets every message exactly once, in order."""

from __future__ import annotations

import asyncio
import random

from bench.web_operations import document
from tests.gateway.conftest import LiveServer, User
from tests.gateway.test_live_signals import event_of
from tests.support.websocket import graphql_socket

CHAT_EVENTS = document("CHAT_EVENTS")
SENDERS = 4
PER_SENDER = 40
FINAL = "final"


async def follow(live: LiveServer, reader: User, start: str, drops: random.Random) -> list[int]:
    """Message ids as a reader sees them who closes the app at random moments and comes back
    with `after:` the highest id seen, until the final message."""
    received: list[int] = []
    after = start
    while True:
        async with graphql_socket(live.ws_url, token=reader.token) as ws:
            await ws.subscribe(CHAT_EVENTS, {"after": after})
            for _ in range(drops.randint(1, 30)):
                message = (await event_of(ws, "MessageAdded", timeout=30))["message"]
                received.append(message["databaseId"])
                after = message["id"]
                if message["text"] == FINAL:
                    return received


async def test_concurrent_senders_and_readers_that_drop_and_resume(live: LiveServer) -> None:
    gw = live.gateway
    owner = await gw.register("Owner")
    senders = [await gw.register(f"Sender{n}") for n in range(SENDERS)]
    readers = [await gw.register(f"Reader{n}") for n in range(3)]
    chat_id = await gw.create_chat(owner, "Busy", *senders, *readers)
    start = await gw.send(owner, chat_id, "start")

    async def send_all(sender: User) -> list[int]:
        sent = []
        for n in range(PER_SENDER):
            sent.append((await gw.send(sender, chat_id, f"{sender.nickname} {n}"))["databaseId"])
        return sent

    following = [
        asyncio.ensure_future(follow(live, reader, start["id"], random.Random(n)))
        for n, reader in enumerate(readers)
    ]
    await asyncio.sleep(0.3)
    sent = await asyncio.gather(*(send_all(sender) for sender in senders))
    final = await gw.send(owner, chat_id, FINAL)
    expected = sorted([*(message_id for ids in sent for message_id in ids), final["databaseId"]])
    for received in await asyncio.gather(*following):
        assert received == expected  # each once, in id order
