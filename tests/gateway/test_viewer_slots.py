"""One execution per chat event for all viewers of the web app's `chatEvents` document, each
viewer's unreadCount, myRole and reactedByMe filled in (gateway/viewer_slots.py): exact per
viewer through sends, reads, joins, leaves and a hand-over, on both protocols, both brokers and
across two gateways; a viewer who left gets nothing after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import orjson
import pytest

from bench.web_operations import sent, sent_documents
from gateway.context import GatewayResources
from gateway.schema import CACHEABLE_QUERY_CHARS
from gateway.shared_events import EventStats
from mychat.settings import Settings
from tests.gateway.conftest import Gateway, LiveServer, User
from tests.gateway.test_accounts_redis import TwoGateways, two_gateways
from tests.gateway.test_chat_event_state import CHAT_EVENTS, drain, two_memory_gateways
from tests.gateway.test_http_api import ADD_MEMBER, LEAVE, typename
from tests.gateway.test_live_signals import MARK_READ, event_of
from tests.gateway.test_redis_gateways import processes
from tests.support.websocket import LEGACY_WS, TRANSPORT_WS, GraphQLSocket, graphql_socket

__all__ = ["processes", "two_gateways"]  # fixtures, used by name

TRANSFER = """mutation T($chatId: ID!, $userId: ID!) {
  transferOwnership(chatId: $chatId, userId: $userId) { __typename }
}"""
REACT = """mutation R($messageId: ID!, $emoji: String!) {
  toggleReaction(messageId: $messageId, emoji: $emoji) { __typename }
}"""


class Viewer:
    """One subscriber and what its next MessageAdded must say about the chat."""

    def __init__(self, user: User, ws: GraphQLSocket, unread: int, role: str) -> None:
        self.user = user
        self.ws = ws
        self.unread = unread
        self.role = role

    async def expect(self, message: dict[str, Any]) -> None:
        event = await event_of(self.ws, "MessageAdded")
        assert event["message"]["id"] == message["id"], (self.user.nickname, event)
        if message["sender"]["nickname"] != self.user.nickname:
            self.unread += 1
        chat = event["chat"]
        assert (chat["unreadCount"], chat["myRole"]) == (self.unread, self.role), (
            self.user.nickname,
            chat,
        )
        assert chat["lastMessage"]["id"] == message["id"]


async def sends(gw: Gateway, chat_id: str, viewers: list[Viewer], *senders: User) -> None:
    """Each sender sends a message; every viewer sees each with their own counts."""
    for n, sender in enumerate(senders):
        message = await gw.send(sender, chat_id, f"{sender.nickname} {n}")
        for viewer in viewers:
            await viewer.expect(message)


async def viewers_stay_exact(gateways: list[Gateway], urls: list[str]) -> None:
    first, second = gateways
    alice, bob, carol, dave, erin = [
        await first.register(name) for name in ("Alice", "Bob", "Carol", "Dave", "Erin")
    ]
    second.users.update(first.users)
    chat_id = await first.create_chat(alice, "Room", bob, carol, dave)
    start = await second.send(alice, chat_id, "start")
    # Both protocols and both gateways among the viewers of each event.
    places = {
        "Alice": (TRANSPORT_WS, 0),
        "Bob": (LEGACY_WS, 1),
        "Carol": (TRANSPORT_WS, 1),
        "Dave": (LEGACY_WS, 0),
        "Erin": (TRANSPORT_WS, 1),
    }
    async with AsyncExitStack() as stack:
        sockets = {}
        for user in (alice, bob, carol, dave, erin):
            protocol, gateway = places[user.nickname]
            sockets[user.nickname] = ws = await stack.enter_async_context(
                graphql_socket(urls[gateway], protocol, token=user.token)
            )
            await ws.subscribe(CHAT_EVENTS, {"after": start["id"]})
        members = [
            Viewer(alice, sockets["Alice"], 0, "OWNER"),
            *(Viewer(user, sockets[user.nickname], 1, "MEMBER") for user in (bob, carol, dave)),
        ]
        by_name = {viewer.user.nickname: viewer for viewer in members}
        await sends(first, chat_id, members, alice)  # every subscription is live after this
        await sends(second, chat_id, members, bob, carol, alice, dave, bob)

        # Bob reads everything (on another device): his count restarts from 0.
        newest = await first.send(carol, chat_id, "to be read")
        for viewer in members:
            await viewer.expect(newest)
        await first.data(MARK_READ, {"chatId": chat_id, "messageId": newest["id"]}, bob.token)
        await event_of(sockets["Bob"], "MessagesRead")
        by_name["Bob"].unread = 0
        await sends(first, chat_id, members, alice, carol)

        # Erin joins: her first event tells her count; Carol leaves; Alice hands over to Bob.
        added = await first.data(ADD_MEMBER, {"chatId": chat_id, "nickname": "Erin"}, alice.token)
        assert added["addMember"]["__typename"] == "AddMemberPayload", added
        joined = await event_of(sockets["Erin"], "AddedToChat")
        erin_viewer = Viewer(erin, sockets["Erin"], joined["chat"]["unreadCount"], "MEMBER")
        await typename(second, LEAVE, {"chatId": chat_id}, carol.token)
        assert (await event_of(sockets["Carol"], "RemovedFromChat"))["chatId"] == chat_id
        handed = await first.data(TRANSFER, {"chatId": chat_id, "userId": bob.id}, alice.token)
        assert handed["transferOwnership"]["__typename"] == "TransferOwnershipPayload", handed
        for name in ("Alice", "Bob", "Dave"):
            await event_of(sockets[name], "OwnerChanged")
        by_name["Alice"].role, by_name["Bob"].role = "MEMBER", "OWNER"
        staying = [by_name["Alice"], by_name["Bob"], by_name["Dave"], erin_viewer]
        await sends(second, chat_id, staying, dave, erin, alice, bob, erin)

        # A reaction: the same event, reactedByMe true for the reactor only.
        last = await first.send(dave, chat_id, "react to me")
        for viewer in staying:
            await viewer.expect(last)
        reacted = await first.data(REACT, {"messageId": last["id"], "emoji": "👍"}, bob.token)
        assert reacted["toggleReaction"]["__typename"] == "MessagePayload", reacted
        for viewer in staying:
            changed = await event_of(viewer.ws, "ReactionsChanged")
            (reaction,) = changed["message"]["reactions"]
            assert reaction["count"] == 1
            assert reaction["reactedByMe"] is (viewer.user is bob), viewer.user.nickname

        # Carol left: nothing of the chat reached her after her removal.
        assert "MessageAdded" not in [
            event["__typename"] for event in await drain(sockets["Carol"])
        ]


async def test_viewers_sharing_one_execution_stay_exact_memory(settings: Settings) -> None:
    async with two_memory_gateways(settings) as (gateways, urls):
        await viewers_stay_exact(gateways, urls)


@pytest.mark.redis
async def test_viewers_sharing_one_execution_stay_exact_redis(two_gateways: TwoGateways) -> None:
    topology = two_gateways.topology
    await viewers_stay_exact(two_gateways.both, [topology.ws_url(0), topology.ws_url(1)])


@asynccontextmanager
async def stats_of(live: LiveServer) -> AsyncIterator[EventStats]:
    """The gateway's event counters, as they move while the block runs."""
    resources: GatewayResources = live.app.state.gateway
    stats = resources.shared_events.stats
    before = EventStats(stats.executions, stats.templates, stats.renders, stats.direct)
    moved = EventStats()
    yield moved
    moved.executions = stats.executions - before.executions
    moved.templates = stats.templates - before.templates
    moved.renders = stats.renders - before.renders
    moved.direct = stats.direct - before.direct


def test_the_web_apps_documents_are_cached() -> None:
    """Subscribers share an event's execution when their documents are one parsed document:
    what the web app sends must fit the parser cache."""
    sizes = {name: len(text) for name, text in sent_documents().items()}
    assert max(sizes.values()) <= CACHEABLE_QUERY_CHARS, sizes


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_one_execution_per_event_for_many_subscribers(
    live: LiveServer, protocol: str
) -> None:
    """Eight members (one with two tabs) on the web app's document as Apollo Client sends it:
    each message is executed once in the process and rendered for each of the nine
    subscriptions."""
    gw = live.gateway
    alice = await gw.register("Alice")
    members = [await gw.register(f"Member{n}") for n in range(8)]
    chat_id = await gw.create_chat(alice, "Room", *members)
    start = await gw.send(alice, chat_id, "start")
    async with AsyncExitStack() as stack:
        tabs = [*members, members[0]]
        sockets = [
            await stack.enter_async_context(graphql_socket(live.ws_url, protocol, token=m.token))
            for m in tabs
        ]
        async with live.subscribing(len(sockets)):
            for ws in sockets:
                await ws.subscribe(sent("CHAT_EVENTS"), {"after": start["id"]})
        # The presence batches of these connections (executed per viewer: each learns of the
        # others) come before the measured window, not in it: heard until none comes for a
        # while (batched every 0.25 s). Which of them a subscription hears depends on timing:
        # the sockets connect (an arrival each) before they subscribe, and a batch that went
        # out before a subscription listened is not for it.
        await asyncio.gather(*(drain(ws, quiet=0.75) for ws in sockets))
        warm = await gw.send(alice, chat_id, "warm-up")  # the catch-ups are over after this
        for ws in sockets:
            assert (await event_of(ws, "MessageAdded"))["message"]["id"] == warm["id"]
        frames: list[list[bytes]] = [[] for _ in sockets]
        async with stats_of(live) as moved:
            for n in range(5):
                sender = members[n % 2]
                message = await gw.send(sender, chat_id, f"m{n}")
                for ws, seen in zip(sockets, frames, strict=True):
                    event = await event_of(ws, "MessageAdded")
                    assert event["message"]["id"] == message["id"]
                    seen.append(orjson.dumps(event))
    assert (moved.executions, moved.templates, moved.renders) == (5, 5, 5 * len(sockets))
    # Every one written where the event arrived, none through the subscriptions' streams.
    assert moved.direct == 5 * len(sockets)
    # Same bytes but for the counts: Member0's two tabs agree, Member2 counts Member0's too.
    assert frames[0] == frames[-1]
    assert frames[2] != frames[0]
    unread = [orjson.loads(frame)["chat"]["unreadCount"] for frame in frames[2]]
    assert unread == [3, 4, 5, 6, 7]  # start, warm-up, then every message of the others
