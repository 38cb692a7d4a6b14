"""Subscriptions on the gateway's own runner (gateway/subscription_runner.py), over real sockets.

The runner keeps nothing of an operation's execution while the subscription waits for events:
no executor, no Strawberry ExecutionContext (issue 12's idle memory); and its errors reach the
client as Strawberry's did.
"""

from __future__ import annotations

import gc

import pytest
from graphql import OperationType
from strawberry.types import ExecutionContext

from gateway.shared_events import SharedEventExecutor, SubscriptionEvents
from tests.gateway.conftest import LiveServer
from tests.gateway.test_subscriptions import CHAT_EVENTS, MESSAGE_ADDED, next_data
from tests.support.websocket import LEGACY_WS, TRANSPORT_WS, graphql_socket

PROTOCOLS = pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])


def alive(kind: type) -> list[object]:
    # type(), not isinstance(): isinstance dereferences weak proxies, which may be dead.
    return [found for found in gc.get_objects() if type(found) is kind]


@PROTOCOLS
async def test_an_idle_subscription_keeps_no_execution_state(
    live: LiveServer, protocol: str
) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    chat_id = await gw.create_chat(alice, "Room", bob)
    async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
        async with live.subscribing():
            op = await ws.subscribe(CHAT_EVENTS)
        gc.collect()
        subscription_executors = [
            executor
            for executor in alive(SharedEventExecutor)
            if getattr(executor, "operation", None) is not None
            and executor.operation.operation is OperationType.SUBSCRIPTION  # type: ignore[attr-defined]
        ]
        assert subscription_executors == []
        assert alive(ExecutionContext) == []
        assert len(alive(SubscriptionEvents)) == 1  # what its events are executed from
        await gw.send(alice, chat_id, "still live")
        got = (await next_data(ws, op))["data"]["chatEvents"]
        assert got["message"]["text"] == "still live"


@PROTOCOLS
async def test_variables_that_do_not_fit_are_an_error_message(
    live: LiveServer, protocol: str
) -> None:
    bob = await live.gateway.register("Bob")
    async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
        op = await ws.subscribe(MESSAGE_ADDED, {"chatId": {"not": "an id"}})
        message = await ws.next_payload()
        assert (message["id"], message["type"]) == (op, "error"), message
        errors = message["payload"] if protocol == TRANSPORT_WS else [message["payload"]]
        assert "$chatId" in errors[0]["message"]
        # The socket goes on: the same id may be used again, now with a fitting value.
        op = await ws.subscribe(MESSAGE_ADDED, {"chatId": "bogus"})
        message = await ws.next_payload()
        assert message["type"] == "error", message
        assert "Chat not found" in str(message["payload"])


async def test_a_refused_subscription_is_a_result_then_complete(live: LiveServer) -> None:
    """Over the cost budget: a result with the error, then `complete` (as Strawberry sends a
    failing `on_execute`), not a crash of the socket."""
    bob = await live.gateway.register("Bob")
    node = "text reactions { users { nickname } }"
    pages = " ".join(
        f"m{n}: messages(last: 200) {{ edges {{ node {{ {node} }} }} }}" for n in range(29)
    )
    deep = "subscription { chatEvents { ... on MessageAdded { chat { " + pages + " } } } }"
    async with graphql_socket(live.ws_url, TRANSPORT_WS, token=bob.token) as ws:
        op = await ws.subscribe(deep)
        message = await ws.next_payload()
        assert (message["id"], message["type"]) == (op, "next"), message
        assert message["payload"]["data"] is None
        assert message["payload"]["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert await ws.next_payload() == {"id": op, "type": "complete"}


@pytest.mark.parametrize(
    ("document", "operation_name", "reason"),
    [
        ("subscription {", None, "Syntax Error"),
        ("subscription A { chatEvents { __typename } }", "B", 'Unknown operation named "B".'),
    ],
)
async def test_a_document_with_nothing_to_run_closes_4400(
    live: LiveServer, document: str, operation_name: str | None, reason: str
) -> None:
    """graphql-transport-ws: a document that does not parse, or names no operation in it,
    closes the socket (the protocol's rule, as Strawberry's handler applies it)."""
    bob = await live.gateway.register("Bob")
    async with graphql_socket(live.ws_url, TRANSPORT_WS, token=bob.token) as ws:
        await ws.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": document, "operationName": operation_name},
            }
        )
        assert await ws.wait_closed() == 4400
        assert reason in (ws.connection.close_reason or "")


async def test_a_document_that_does_not_parse_is_an_error_over_legacy(live: LiveServer) -> None:
    """graphql-ws has no close code for it: the operation's `error`, and the socket goes on."""
    bob = await live.gateway.register("Bob")
    async with graphql_socket(live.ws_url, LEGACY_WS, token=bob.token) as ws:
        op = await ws.subscribe("subscription {")
        message = await ws.next_payload()
        assert (message["id"], message["type"]) == (op, "error"), message
        assert "Syntax Error" in message["payload"]["message"]
        await ws.subscribe(CHAT_EVENTS)  # still open, and subscribing
        assert await ws.until_quiet(0.5) == []
