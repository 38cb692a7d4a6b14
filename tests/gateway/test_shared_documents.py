"""Sockets subscribing with the same document text keep one copy of it (SharedDocuments), and
an idle socket keeps none of the message it handled last."""

from __future__ import annotations

import gc

import orjson

from gateway.websocket import SharedDocuments
from tests.gateway.conftest import LiveServer
from tests.support.websocket import graphql_socket

DOCUMENT = "subscription Events { chatEvents { __typename } }" + " " * 3000


def _subscribe(document: str) -> object:
    # Decoded from the wire, as each socket's message is: equal texts, distinct objects.
    return orjson.loads(
        orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": document}})
    )


def _query(message: object) -> str:
    assert isinstance(message, dict)
    query = message["payload"]["query"]
    assert isinstance(query, str)
    return query


def test_equal_documents_become_one_object() -> None:
    documents = SharedDocuments()
    first, second = _subscribe(DOCUMENT), _subscribe(DOCUMENT)
    assert _query(first) is not _query(second)
    assert _query(documents.shared_query(first)) is _query(documents.shared_query(second))
    assert _query(second) == DOCUMENT


def test_the_oldest_document_makes_room_for_a_new_one() -> None:
    documents = SharedDocuments(size=2)
    kept = [_query(documents.shared_query(_subscribe(f"{{ a{n} }}"))) for n in range(3)]
    assert _query(documents.shared_query(_subscribe("{ a2 }"))) is kept[2]
    assert _query(documents.shared_query(_subscribe("{ a0 }"))) is not kept[0]  # evicted


def test_messages_without_a_query_pass_unchanged() -> None:
    documents = SharedDocuments()
    messages: list[object] = [None, [], {"type": "ping"}, {"payload": 1}, {"payload": {"query": 5}}]
    for message in messages:
        assert documents.shared_query(message) == message


async def test_an_idle_socket_keeps_no_handled_message(live: LiveServer) -> None:
    alice = await live.gateway.register("Alice")
    async with graphql_socket(live.ws_url, token=alice.token) as ws:
        async with live.subscribing():
            await ws.subscribe(DOCUMENT)
        gc.collect()
        kept = [o for o in gc.get_objects() if isinstance(o, dict) and o.get("type") == "subscribe"]
        assert kept == []
