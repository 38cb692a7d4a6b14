"""chatEvents with the web app's own document: every event carries the viewer's chat (unread
count, role, last message) without a service call per delivery, exact across reads, sends,
hand-overs and reconnects; a member who left gets nothing more, on every gateway and broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from assembly.embedded import PrefixDispatcher
from bench.web_operations import document
from gateway.app import create_app as create_gateway_app
from mychat.broker import MemoryBroker
from mychat.settings import Settings
from mychat.ws_protocol import LeanHttpProtocol, LeanWebSocketProtocol
from tests.gateway.conftest import GRAPHQL, Gateway, LiveServer, User, composed, service_settings
from tests.gateway.test_accounts_redis import TwoGateways, two_gateways
from tests.gateway.test_http_api import ADD_MEMBER, LEAVE, typename
from tests.gateway.test_live_signals import MARK_READ, event_of
from tests.gateway.test_redis_gateways import processes
from tests.support.ports import serving
from tests.support.websocket import GraphQLSocket, graphql_socket

__all__ = ["processes", "two_gateways"]  # fixtures, used by name

CHAT_EVENTS = document("CHAT_EVENTS")  # what the web app subscribes to


async def people(gw: Gateway) -> list[User]:
    return [await gw.register(name) for name in ("Alice", "Bob", "Carol")]


async def next_message(ws: GraphQLSocket) -> dict[str, Any]:
    return await event_of(ws, "MessageAdded")


async def test_a_burst_costs_no_service_call_per_delivery(live: LiveServer) -> None:
    """Three subscribers (two tabs of Bob, one of Carol) and 30 messages: the only calls to
    chat_service are the 30 sends; each event's chat is the viewer's, exact."""
    gw = live.gateway
    alice, bob, carol = await people(gw)
    chat_id = await gw.create_chat(alice, "Busy", bob, carol)
    before = await gw.send(alice, chat_id, "before")
    async with (
        graphql_socket(live.ws_url, token=bob.token) as bob_tab,
        graphql_socket(live.ws_url, token=bob.token) as bob_other_tab,
        graphql_socket(live.ws_url, token=carol.token) as carol_tab,
    ):
        for ws in (bob_tab, bob_other_tab, carol_tab):
            await ws.subscribe(CHAT_EVENTS, {"after": before["id"]})
        await gw.send(alice, chat_id, "warm-up")
        for ws in (bob_tab, bob_other_tab, carol_tab):  # every subscription has started
            assert (await next_message(ws))["chat"]["unreadCount"] == 2
        gw.chat_calls.clear()
        sent = [await gw.send(alice if n % 3 else carol, chat_id, f"m{n}") for n in range(30)]
        for ws, viewer in ((bob_tab, bob), (bob_other_tab, bob), (carol_tab, carol)):
            unread = 2  # nobody has read "before" and "warm-up"
            for message in sent:
                event = await next_message(ws)
                assert event["message"]["id"] == message["id"]
                if message["sender"]["nickname"] != viewer.nickname:
                    unread += 1
                chat = event["chat"]
                assert chat["unreadCount"] == unread
                assert chat["myRole"] == "MEMBER"
                assert chat["lastMessage"]["id"] == message["id"]
                assert chat["lastActivityAt"] == event["message"]["createdAt"]
                assert chat["name"] == "Busy"
    sends = f"/internal/chats/{event['chat']['databaseId']}/messages"
    assert gw.chat_calls == {sends: len(sent)}, gw.chat_calls


async def test_live_only_starts_after_the_newest_line_of_any_kind(live: LiveServer) -> None:
    """No `after`: from now. The chat's newest lines are system lines ("Carol joined", after its
    newest message and after the viewer's read marker): none of them is replayed."""
    gw = live.gateway
    alice, bob, carol = await people(gw)
    chat_id = await gw.create_chat(alice, "Quiet", bob)
    hello = await gw.send(alice, chat_id, "hello")
    read = await gw.data(MARK_READ, {"chatId": chat_id, "messageId": hello["id"]}, bob.token)
    assert read["markRead"]["__typename"] == "MarkReadPayload", read
    added = await gw.data(ADD_MEMBER, {"chatId": chat_id, "nickname": "Carol"}, alice.token)
    assert added["addMember"]["__typename"] == "AddMemberPayload", added
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        async with live.subscribing():
            await ws.subscribe(CHAT_EVENTS, {"after": None})
        now = await gw.send(carol, chat_id, "now")
        event = await next_message(ws)
        assert event["message"]["id"] == now["id"], event
        assert event["chat"]["unreadCount"] == 1


async def test_unread_and_role_stay_exact_through_reads_handover_and_reconnect(
    live: LiveServer,
) -> None:
    gw = live.gateway
    alice, bob, carol = await people(gw)
    chat_id = await gw.create_chat(alice, "Room", bob, carol)
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        async with live.subscribing():
            await ws.subscribe(CHAT_EVENTS)
        for n in range(3):
            await gw.send(alice, chat_id, f"a{n}")
            assert (await next_message(ws))["chat"]["unreadCount"] == n + 1
        # Bob reads on another device: this one learns it (and the count restarts from there).
        third = (await next_message_after_read(gw, ws, bob, chat_id))["chat"]
        assert third["unreadCount"] == 1
        await gw.send(bob, chat_id, "mine")  # his own: not unread
        mine = await next_message(ws)
        assert mine["chat"]["unreadCount"] == 1
        # The owner leaves: the longest-standing member (Bob, before Carol by id) owns it now.
        await typename(gw, LEAVE, {"chatId": chat_id}, alice.token)
        assert (await event_of(ws, "MemberLeft"))["user"]["nickname"] == "Alice"
        await gw.send(carol, chat_id, "c1")
        after_handover = await next_message(ws)
        assert after_handover["chat"]["myRole"] == "OWNER"
        assert after_handover["chat"]["unreadCount"] == 2
        last_seen = after_handover["message"]["id"]
    await gw.send(carol, chat_id, "while away")
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        await ws.subscribe(CHAT_EVENTS, {"after": last_seen})
        missed = await next_message(ws)
        assert missed["message"]["text"] == "while away"
        assert (missed["chat"]["unreadCount"], missed["chat"]["myRole"]) == (3, "OWNER")
        await gw.send(carol, chat_id, "live again")
        live_again = await next_message(ws)
        assert live_again["chat"]["unreadCount"] == 4


async def next_message_after_read(
    gw: Gateway, ws: GraphQLSocket, reader: User, chat_id: str
) -> dict[str, Any]:
    """Mark the chat read up to its newest message (as another device of `reader` would), see
    the marker arrive on `ws`, then the next message from someone else."""
    newest = (await gw.send(gw.users["Alice"], chat_id, "to be read"))["id"]
    await next_message(ws)
    await gw.data(MARK_READ, {"chatId": chat_id, "messageId": newest}, reader.token)
    read = await event_of(ws, "MessagesRead")
    assert read["user"]["nickname"] == reader.nickname
    await gw.send(gw.users["Alice"], chat_id, "after the read")
    return await next_message(ws)


async def removed_viewer_gets_nothing(first: Gateway, second: Gateway, ws_urls: list[str]) -> None:
    """Bob, subscribed on both gateways, leaves through the first: both his streams end the
    chat with RemovedFromChat, and the next messages reach Carol but never Bob."""
    alice, bob, carol = await people(first)
    second.users.update(first.users)
    chat_id = await first.create_chat(alice, "Room", bob, carol)
    async with (
        graphql_socket(ws_urls[0], token=bob.token) as bob_first,
        graphql_socket(ws_urls[1], token=bob.token) as bob_second,
        graphql_socket(ws_urls[1], token=carol.token) as carol_ws,
    ):
        start = await second.send(alice, chat_id, "start")
        for ws in (bob_first, bob_second, carol_ws):  # from `start` on: no race with the start
            await ws.subscribe(CHAT_EVENTS, {"after": start["id"]})
        await second.send(alice, chat_id, "before")
        for ws in (bob_first, bob_second, carol_ws):
            assert (await next_message(ws))["message"]["text"] == "before"
        # Sends race the leave on the other gateway: none may reach Bob after his removal.
        racing = asyncio.gather(*(second.send(alice, chat_id, f"r{n}") for n in range(10)))
        await typename(first, LEAVE, {"chatId": chat_id}, bob.token)
        await racing
        await second.send(alice, chat_id, "after")
        texts = [(await next_message(carol_ws))["message"]["text"] for _ in range(11)]
        assert texts[-1] == "after"
        for ws in (bob_first, bob_second):
            events = await drain(ws)
            names = [event["__typename"] for event in events]
            assert "RemovedFromChat" in names, names
            after_removal = names[names.index("RemovedFromChat") + 1 :]
            assert "MessageAdded" not in after_removal, events


async def drain(ws: GraphQLSocket, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every chatEvents event until none comes for `quiet` seconds."""
    events: list[dict[str, Any]] = []
    while True:
        try:
            message = await ws.next_payload(quiet)
        except TimeoutError:
            return events
        events.append(message["payload"]["data"]["chatEvents"])


@asynccontextmanager
async def two_memory_gateways(settings: Settings) -> AsyncIterator[tuple[list[Gateway], list[str]]]:
    """auth, chat and two gateways on one MemoryBroker (one process), each on its own socket."""
    settings = service_settings(settings)
    broker = MemoryBroker()
    async with composed(settings, broker) as (first_app, auth, chat), AsyncExitStack() as stack:
        second_app = create_gateway_app(settings, auth_app=auth, chat_app=chat, broker=broker)
        assert isinstance(second_app, Starlette)
        await stack.enter_async_context(second_app.router.lifespan_context(second_app))
        gateways, urls = [], []
        for app in (first_app, second_app):
            dispatcher = PrefixDispatcher([(GRAPHQL, app)], fallback=app)
            base = await stack.enter_async_context(
                serving(dispatcher, lifespan="off", ws=LeanWebSocketProtocol, http=LeanHttpProtocol)
            )
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=base))
            gateways.append(Gateway(client, auth.calls, chat.calls, settings))
            urls.append(base.replace("http://", "ws://") + GRAPHQL)
        yield gateways, urls


async def test_removed_viewer_gets_nothing_on_either_gateway_memory(settings: Settings) -> None:
    async with two_memory_gateways(settings) as ((first, second), urls):
        await removed_viewer_gets_nothing(first, second, urls)


@pytest.mark.redis
async def test_removed_viewer_gets_nothing_on_either_gateway_redis(
    two_gateways: TwoGateways,
) -> None:
    topology = two_gateways.topology
    await removed_viewer_gets_nothing(
        two_gateways.first, two_gateways.second, [topology.ws_url(0), topology.ws_url(1)]
    )
