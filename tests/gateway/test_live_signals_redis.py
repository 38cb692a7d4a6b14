"""Typing, read receipts and presence across two gateway processes on Redis; a killed gateway's
users go offline (its holds expire and another gateway's sweep announces it)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.gateway.test_accounts_redis import TwoGateways, two_gateways
from tests.gateway.test_live_signals import MARK_READ, SET_TYPING, SIGNALS, event_of, members
from tests.gateway.test_redis_gateways import Processes, processes
from tests.gateway.test_subscriptions import settle
from tests.support.websocket import graphql_socket

pytestmark = pytest.mark.redis
__all__ = ["processes", "two_gateways"]  # fixtures, used by name


async def test_signals_cross_gateways_and_a_killed_gateway_s_users_go_offline(
    two_gateways: TwoGateways, processes: Processes
) -> None:
    topology, (first, second) = two_gateways.topology, two_gateways.both
    alice = await first.register("Alice")
    bob = await first.register("Bob")
    chat_id = await first.create_chat(alice, "Across", bob)
    message = await first.send(alice, chat_id, "over there")
    async with graphql_socket(topology.ws_url(0), token=alice.token) as alice_ws:
        await alice_ws.subscribe(SIGNALS)
        await settle()
        # Bob: one tab on each gateway.
        async with graphql_socket(topology.ws_url(1), token=bob.token) as bob_tab:
            await bob_tab.subscribe(SIGNALS)
            online = await event_of(alice_ws, "PresenceChanged")
            assert (online["user"]["nickname"], online["online"]) == ("Bob", True)
            async with graphql_socket(topology.ws_url(0), token=bob.token):
                await settle()
            # Typing and receipts through the second gateway reach Alice on the first.
            variables = {"chatId": chat_id, "typing": True}
            await second.data(SET_TYPING, variables, bob.token)
            typing = await event_of(alice_ws, "Typing")
            assert typing["user"]["nickname"] == "Bob"
            read = {"chatId": chat_id, "messageId": message["id"]}
            await second.data(MARK_READ, read, bob.token)
            receipt = await event_of(alice_ws, "MessagesRead")
            assert receipt["readUpTo"] == message["databaseId"]
            await asyncio.sleep(4)  # past the grace of the tab closed on the first gateway
            assert (await members(first, alice, chat_id))["Bob"]["online"] is True
            # The second gateway dies with Bob's last tab: no goodbye from it.
            processes.running[3].kill()
            killed = time.monotonic()
            offline = await event_of(alice_ws, "PresenceChanged", timeout=30)
            took = time.monotonic() - killed
    assert (offline["user"]["nickname"], offline["online"]) == ("Bob", False)
    assert offline["lastSeenAt"]
    assert took < 30, took
