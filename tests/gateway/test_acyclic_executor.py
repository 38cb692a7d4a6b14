"""Every execution's executor is freed by reference counting the moment it is done
(gateway/acyclic_executor.py): queries over HTTP, marks over the socket and the events of a
subscription leave nothing for the garbage collector, whose pauses under a fan-out were what
the slowest deliveries waited for."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from graphql.execution import Executor

from tests.gateway.conftest import LiveServer
from tests.gateway.test_socket_mutations import mark
from tests.gateway.test_subscriptions import next_data
from tests.support.websocket import graphql_socket

CHAT_EVENTS = """subscription {
  chatEvents(signals: true) {
    __typename
    ... on MessageAdded { message { id text } chat { id unreadCount lastMessage { id } } }
    ... on MessagesRead { readUpTo }
  }
}"""
HISTORY = "query($id: ID!) { chat(id: $id) { messages(last: 5) { edges { node { text } } } } }"


@contextmanager
def garbage_kept() -> Iterator[list[object]]:
    """What the collector finds unreachable (reference cycles) while the block runs."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.collect()
        gc.set_debug(0)
    gc.garbage.clear()


async def test_no_executor_is_left_to_the_garbage_collector(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    await gw.send(alice, chat_id, "before")
    async with (
        graphql_socket(live.ws_url, token=bob.token) as viewer,
        graphql_socket(live.ws_url, token=bob.token) as tab,
    ):
        async with live.subscribing():
            events = await viewer.subscribe(CHAT_EVENTS)
        with garbage_kept() as garbage:
            for number in range(5):
                sent = await gw.send(alice, chat_id, f"message {number}")
                added = (await next_data(viewer, events))["data"]["chatEvents"]
                assert added["message"]["text"] == f"message {number}"
                answer = await mark(tab, chat_id, sent["id"])
                assert answer["chat"]["unreadCount"] == 0
                read = (await next_data(viewer, events))["data"]["chatEvents"]
                assert read["__typename"] == "MessagesRead"
                page = await gw.data(HISTORY, {"id": chat_id}, bob.token)
                newest = page["chat"]["messages"]["edges"][-1]["node"]
                assert newest["text"] == f"message {number}"
            gc.collect()
            executors = [found for found in garbage if isinstance(found, Executor)]
        assert executors == []
