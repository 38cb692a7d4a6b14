"""searchMessages over GraphQL: the connection, its pages, each typed refusal, and its cost."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Gateway
from tests.gateway.test_http_api import typename

SEARCH = """
query Search($query: String!, $first: Int, $after: String, $chatId: ID) {
  searchMessages(query: $query, first: $first, after: $after, chatId: $chatId) {
    __typename
    ... on MessageSearchConnection {
      terms
      edges { cursor node { text sender { nickname } } chat { name } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Error { message code }
    ... on ValidationError { field }
  }
}
"""


async def test_search_my_chats(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    eve = await gateway.register("Eve")
    room = await gateway.create_chat(alice, "Room", bob)
    await gateway.create_chat(eve, "Hidden")
    for text in ("Deploy tonight", "Lunch?", "the deployment is done", "deploy again"):
        await gateway.send(alice, room, text)
    first = await typename(gateway, SEARCH, {"query": "Deploy", "first": 2}, bob.token)
    assert first["__typename"] == "MessageSearchConnection"
    assert first["terms"] == ["deploy"]
    assert [edge["node"]["text"] for edge in first["edges"]] == [
        "deploy again",
        "the deployment is done",
    ]
    assert first["edges"][0]["chat"] == {"name": "Room"}
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    rest = await typename(gateway, SEARCH, {"query": "deploy", "after": after}, bob.token)
    assert [edge["node"]["text"] for edge in rest["edges"]] == ["Deploy tonight"]
    assert rest["pageInfo"]["hasNextPage"] is False
    nothing = await typename(gateway, SEARCH, {"query": "deploy"}, eve.token)
    assert nothing["edges"] == []
    one_chat = await typename(gateway, SEARCH, {"query": "lunch", "chatId": room}, alice.token)
    assert [edge["node"]["text"] for edge in one_chat["edges"]] == ["Lunch?"]


async def test_refusals_are_typed(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    eve = await gateway.register("Eve")
    room = await gateway.create_chat(alice, "Room")
    cases: list[tuple[dict[str, Any], str | None, str, str | None]] = [
        ({"query": "  "}, alice.token, "ValidationError", "query"),
        ({"query": "x" * 201}, alice.token, "ValidationError", "query"),
        ({"query": "hello", "first": 51}, alice.token, "ValidationError", "first"),
        ({"query": "hello", "first": 0}, alice.token, "ValidationError", "first"),
        ({"query": "hello", "after": "nope"}, alice.token, "ValidationError", "after"),
        ({"query": "hello", "chatId": room}, eve.token, "NotAMember", None),
        ({"query": "hello", "chatId": "bogus"}, alice.token, "NotFound", None),
        ({"query": "hello"}, None, "Unauthenticated", None),
    ]
    for variables, token, kind, field in cases:
        result = await typename(gateway, SEARCH, variables, token)
        assert result["__typename"] == kind, (variables, result)
        assert result.get("field") == field


async def test_the_page_size_counts_in_the_cost(gateway: Gateway) -> None:
    """`first` multiplies the objects a search may return, as for any page (gateway/cost.py)."""
    alice = await gateway.register("Alice")
    nested = """query($first: Int) { searchMessages(query: "word", first: $first) {
      ... on MessageSearchConnection {
        edges { chat { messages(last: 200) { edges { node { text } } } } } } } }"""
    small = await gateway.post(nested, {"first": 1}, alice.token)
    assert "errors" not in small, small
    big = await gateway.post(nested, {"first": 50}, alice.token)
    assert big["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
