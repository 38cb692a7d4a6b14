"""One execution per event and process for plain selections; per-subscriber for the rest."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Sized
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLSchema,
    parse,
)
from graphql.execution import Executor

from gateway.clients import MessageData
from gateway.context import Context, GatewayResources
from gateway.schema import GatewaySchema, build_schema
from gateway.shared_events import SharedEventExecutor, SharedEvents, SubscriptionEvents
from gateway.subscriptions import MessageAdded
from gateway.transport import HttpTransport
from gateway.types import Chat, ChatRole, Message
from mychat.broker import MemoryBroker
from mychat.tokens import TokenCodec
from tests.gateway.conftest import LiveServer
from tests.gateway.test_subscriptions import next_data
from tests.support.env import TEST_JWT_SECRET
from tests.support.websocket import TRANSPORT_WS, graphql_socket


def row(message_id: int = 7, text: str = "hello") -> MessageData:
    return MessageData(
        id=message_id,
        chat_id=3,
        sender_id=2,
        sender_nickname="Alice",
        text=text,
        created_at="2026-11-26T10:00:00+00:00",
        client_id=None,
    )


PLAIN = """subscription Watch($chatId: ID!, $after: ID) {
  messageAdded(chatId: $chatId, after: $after) {
    id databaseId text createdAt __typename sender { id nickname } ...More
  }
}
fragment More on Message { clientId chatId }"""
WITH_VARIABLE_DIRECTIVE = """subscription Watch($chatId: ID!, $withText: Boolean!) {
  messageAdded(chatId: $chatId) { id text @include(if: $withText) }
}"""
EVENTS_PLAIN = """subscription { chatEvents {
  __typename ... on MessageAdded { message { id text } } ... on RemovedFromChat { chatId }
} }"""
EVENTS_WITH_RESOLVER = """subscription { chatEvents {
  ... on MessageAdded { message { id } chat { lastMessage { id } } }
} }"""


@pytest.fixture
async def context() -> AsyncIterator[Context]:
    # Nothing here calls a service: transports to an unused address.
    auth_http = HttpTransport("http://127.0.0.1:9")
    chat_http = HttpTransport("http://127.0.0.1:9")
    try:
        resources = GatewayResources(
            auth_http, chat_http, MemoryBroker(), TokenCodec(TEST_JWT_SECRET, timedelta(hours=1))
        )
        yield Context(resources, "test")
    finally:
        await auth_http.aclose()
        await chat_http.aclose()


@pytest.fixture(scope="module")
def graphql_schema() -> GraphQLSchema:
    """The gateway's graphql-core schema, as its subscription runner has it (Strawberry has no
    public attribute for it: GatewaySchema.graphql_schema)."""
    schema = build_schema()
    assert isinstance(schema, GatewaySchema)
    return schema.subscriptions.graphql_schema


@cache
def parsed(document: str) -> DocumentNode:
    """One parse per text, as the gateway's parser cache does."""
    return parse(document)


def subscriber_executor(
    schema: GraphQLSchema, context: Context, document: str, variables: dict[str, Any] | None = None
) -> SharedEventExecutor:
    """A subscription's executor, as graphql-core's subscribe builds it."""
    subscriber = SharedEventExecutor.build(
        schema, parsed(document), context_value=context, raw_variable_values=variables or {}
    )
    assert isinstance(subscriber, SharedEventExecutor), subscriber
    return subscriber


def event_executor(
    schema: GraphQLSchema,
    context: Context,
    document: str,
    payload: object,
    variables: dict[str, Any] | None = None,
) -> SharedEventExecutor:
    """A subscriber's executor for one event."""
    subscriber = subscriber_executor(schema, context, document, variables)
    per_event = subscriber.build_per_event_executor(payload)
    assert isinstance(per_event, SharedEventExecutor)
    return per_event


def run(executor: SharedEventExecutor) -> ExecutionResult:
    result = executor.execute_operation()
    assert isinstance(result, ExecutionResult), result
    assert result.errors is None, result.errors
    return result


def test_plain_selection_runs_once_for_all_subscribers(
    graphql_schema: GraphQLSchema, context: Context
) -> None:
    message = Message.from_data(row())
    variables = {"chatId": "Q2hhdDoz", "after": None}
    first = run(event_executor(graphql_schema, context, PLAIN, message, variables))
    # Another subscriber (other variables for the stream itself) gets the very same result.
    other = {"chatId": "Q2hhdDoz", "after": "TWVzc2FnZTox"}
    assert run(event_executor(graphql_schema, context, PLAIN, message, other)) is first
    assert first.data == {
        "messageAdded": {
            "id": message.id,
            "databaseId": 7,
            "text": "hello",
            "createdAt": "2026-11-26T10:00:00+00:00",
            "__typename": "Message",
            "sender": {"id": message.sender.id, "nickname": "Alice"},
            "clientId": None,
            "chatId": message.chat_id,
        }
    }
    # A different event is executed afresh.
    newer = Message.from_data(row(8, "again"))
    second = run(event_executor(graphql_schema, context, PLAIN, newer, variables))
    assert second is not first
    assert second.data is not None
    assert second.data["messageAdded"]["text"] == "again"


def test_selection_depending_on_variables_runs_per_subscriber(
    graphql_schema: GraphQLSchema, context: Context
) -> None:
    message = Message.from_data(row())
    with_text = run(
        event_executor(
            graphql_schema,
            context,
            WITH_VARIABLE_DIRECTIVE,
            message,
            {"chatId": "x", "withText": True},
        )
    )
    without = run(
        event_executor(
            graphql_schema,
            context,
            WITH_VARIABLE_DIRECTIVE,
            message,
            {"chatId": "x", "withText": False},
        )
    )
    assert with_text.data == {"messageAdded": {"id": message.id, "text": "hello"}}
    assert without.data == {"messageAdded": {"id": message.id}}


def test_union_payloads_share_only_plain_selections(
    graphql_schema: GraphQLSchema, context: Context
) -> None:
    message = Message.from_data(row())
    chat = Chat(
        id=message.chat_id,
        database_id=3,
        name="Chat",
        created_at=message.created_at,
        last_activity_at=message.created_at,
        my_role=ChatRole.MEMBER,
        unread_count=1,
    )
    event = MessageAdded(message=message, chat=chat)
    shared = context.shared_events
    assert shared.shareable(subscriber_executor(graphql_schema, context, EVENTS_PLAIN), event)
    # `lastMessage` has a resolver (which may call a service): not shared between users.
    assert not shared.shareable(
        subscriber_executor(graphql_schema, context, EVENTS_WITH_RESOLVER), event
    )
    first = run(event_executor(graphql_schema, context, EVENTS_PLAIN, event))
    assert run(event_executor(graphql_schema, context, EVENTS_PLAIN, event)) is first
    assert first.data == {
        "chatEvents": {
            "__typename": "MessageAdded",
            "message": {"id": event.message.id, "text": "hello"},
        }
    }


def test_events_do_not_grow_the_subscription_executor(
    graphql_schema: GraphQLSchema, context: Context
) -> None:
    subscriber = subscriber_executor(graphql_schema, context, PLAIN, {"chatId": "x"})

    def sizes() -> dict[str, int]:
        """How much each container of the subscription's executor and of what its events are
        made from holds, whatever its name."""
        events = subscriber.events
        held = [
            *vars(subscriber).items(),
            *((f"events.{name}", getattr(events, name)) for name in SubscriptionEvents.__slots__),
        ]
        return {name: len(value) for name, value in held if isinstance(value, Sized)}

    run(subscriber.build_per_event_executor(Message.from_data(row(1))))  # type: ignore[arg-type]
    after_one = sizes()
    for message_id in range(2, 51):
        message = Message.from_data(row(message_id))
        run(subscriber.build_per_event_executor(message))  # type: ignore[arg-type]
    # graphql-core's copies would add to the shared field memo on every event, forever.
    assert sizes() == after_one


def test_per_event_executors_carry_every_constructor_argument(
    graphql_schema: GraphQLSchema, context: Context
) -> None:
    """Fails when graphql-core's Executor constructor changes: `executor_for` must follow."""
    arguments = list(inspect.signature(Executor.__init__).parameters)[1:]
    assert arguments == [
        "schema",
        "fragment_definitions",
        "fragments",
        "root_value",
        "context_value",
        "operation",
        "variable_values",
        "field_resolver",
        "type_resolver",
        "subscribe_field_resolver",
        "enable_early_execution",
        "middleware_manager",
        "is_awaitable",
        "is_async_iterable",
        "hide_suggestions",
        "abort_signal",
        "hooks",
    ]
    subscriber = SharedEventExecutor.build(
        graphql_schema,
        parsed(PLAIN),
        context_value=context,
        raw_variable_values={"chatId": "x"},
        enable_early_execution=True,
        hide_suggestions=True,
        operation_extensions={"from": "client"},
    )
    assert isinstance(subscriber, SharedEventExecutor), subscriber
    payload = Message.from_data(row())
    assert subscriber.events is not None
    per_event = subscriber.events.executor_for(payload)
    assert per_event.root_value is payload
    for name in [*arguments, "operation_extensions"]:
        if name != "root_value":
            assert getattr(per_event, name) is getattr(subscriber, name), name
    alike = event_executor(graphql_schema, context, PLAIN, payload, {"chatId": "x"})
    assert run(per_event).data == run(alike).data


def test_object_for_builds_once_per_payload() -> None:
    shared = SharedEvents()
    payload = row()
    built = shared.object_for("Message", payload, lambda: Message.from_data(payload))
    assert shared.object_for("Message", payload, lambda: Message.from_data(payload)) is built
    # Equal but another event: built again.
    again = shared.object_for("Message", row(), lambda: Message.from_data(payload))
    assert again is not built


CHAT_EVENTS_ROLE = """subscription {
  chatEvents { ... on MessageAdded { message { text } chat { name myRole } } }
}"""


async def test_shared_event_still_resolves_each_subscribers_own_view(live: LiveServer) -> None:
    """Owner and member get one event object; `myRole` is still their own."""
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    chat_id = await gw.create_chat(alice, "Room", bob)
    async with (
        graphql_socket(live.ws_url, TRANSPORT_WS, token=alice.token) as alice_ws,
        graphql_socket(live.ws_url, TRANSPORT_WS, token=bob.token) as bob_ws,
    ):
        async with live.subscribing(2):
            alice_op = await alice_ws.subscribe(CHAT_EVENTS_ROLE, {})
            bob_op = await bob_ws.subscribe(CHAT_EVENTS_ROLE, {})
        await gw.send(bob, chat_id, "one event, two views")
        alice_sees = (await next_data(alice_ws, alice_op))["data"]["chatEvents"]
        bob_sees = (await next_data(bob_ws, bob_op))["data"]["chatEvents"]
    assert alice_sees == {
        "message": {"text": "one event, two views"},
        "chat": {"name": "Room", "myRole": "OWNER"},
    }
    assert bob_sees == {
        "message": {"text": "one event, two views"},
        "chat": {"name": "Room", "myRole": "MEMBER"},
    }


PLAIN_WATCH = """subscription($chatId: ID!) {
  messageAdded(chatId: $chatId) { id text sender { nickname } }
}"""


async def test_subscribers_of_one_document_all_get_the_shared_result(live: LiveServer) -> None:
    """Through graphql-core's real subscription pipeline: the first subscriber executes, the
    others get the ready result (gateway.shared_events._ReadyEvent)."""
    gw = live.gateway
    alice = await gw.register("Alice")
    members = [await gw.register(name) for name in ("Bob", "Carol", "Dave")]
    chat_id = await gw.create_chat(alice, "Room", *members)
    async with (
        graphql_socket(live.ws_url, TRANSPORT_WS, token=members[0].token) as bob,
        graphql_socket(live.ws_url, TRANSPORT_WS, token=members[1].token) as carol,
        graphql_socket(live.ws_url, TRANSPORT_WS, token=members[2].token) as dave,
    ):
        sockets = [bob, carol, dave]
        async with live.subscribing(len(sockets)):
            ops = [await ws.subscribe(PLAIN_WATCH, {"chatId": chat_id}) for ws in sockets]
        for text in ("one", "two"):
            sent = await gw.send(alice, chat_id, text)
            for ws, op in zip(sockets, ops, strict=True):
                got = (await next_data(ws, op))["data"]["messageAdded"]
                assert got == {"id": sent["id"], "text": text, "sender": {"nickname": "Alice"}}


def event_of(subscriber: SharedEventExecutor, payload: object) -> SharedEventExecutor:
    per_event = subscriber.build_per_event_executor(payload)
    assert isinstance(per_event, SharedEventExecutor)
    return per_event


def test_a_subscriptions_events_collect_its_selection_once(
    graphql_schema: GraphQLSchema, context: Context
) -> None:
    """Each event runs on a new executor; the selection's fields are collected for the first
    one only (gateway/collected_once.py), and the subscription's SubscriptionEvents are on
    its context (for the direct delivery)."""
    subscriber = subscriber_executor(graphql_schema, context, PLAIN, {"chatId": "Q2hhdDoz"})
    events = subscriber.events
    assert events is not None
    assert context.subscription_events is events
    first = run(event_of(subscriber, Message.from_data(row(7, "first"))))
    collected = dict(events.collected or {})
    assert collected  # the message's fields and its sender's
    second = run(event_of(subscriber, Message.from_data(row(8, "second"))))
    assert events.collected is not None
    assert events.collected.keys() == collected.keys()
    assert all(events.collected[key] is found for key, found in collected.items())
    assert first.data is not None
    assert second.data is not None
    assert (first.data["messageAdded"]["text"], second.data["messageAdded"]["text"]) == (
        "first",
        "second",
    )
    assert second.data["messageAdded"]["sender"] == first.data["messageAdded"]["sender"]
