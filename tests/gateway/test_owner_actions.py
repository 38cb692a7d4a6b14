"""Owner actions and direct chats over GraphQL: payloads, each typed refusal, live events."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Gateway, LiveServer, User
from tests.gateway.test_http_api import ADD_MEMBER, LEAVE, typename
from tests.gateway.test_subscriptions import MESSAGE_ADDED, next_data
from tests.support.websocket import GraphQLSocket, graphql_socket

RENAME = """
mutation Rename($chatId: ID!, $name: String!) {
  renameChat(chatId: $chatId, name: $name) {
    __typename
    ... on RenameChatPayload { chat { id name } }
    ... on Error { message code }
    ... on ValidationError { field }
  }
}
"""
REMOVE = """
mutation Remove($chatId: ID!, $userId: ID!) {
  removeMember(chatId: $chatId, userId: $userId) {
    __typename
    ... on RemoveMemberPayload { userId chat { members { user { nickname } role } } }
    ... on Error { message code }
    ... on ValidationError { field }
  }
}
"""
TRANSFER = """
mutation Transfer($chatId: ID!, $userId: ID!) {
  transferOwnership(chatId: $chatId, userId: $userId) {
    __typename
    ... on TransferOwnershipPayload { owner { user { nickname } role } chat { myRole } }
    ... on Error { message code }
    ... on ValidationError { field }
  }
}
"""
DIRECT = """
mutation Direct($nickname: String!) {
  startDirectChat(nickname: $nickname) {
    __typename
    ... on StartDirectChatPayload {
      created chat { id name isDirect directWith { nickname } myRole }
    }
    ... on Error { message code }
    ... on ValidationError { field }
  }
}
"""
CHAT_EVENTS = """subscription {
  chatEvents {
    __typename
    ... on ChatRenamed { chatId name previousName by { nickname } }
    ... on MemberRemoved { chatId user { nickname } by { nickname } }
    ... on OwnerChanged { chatId owner { nickname } previousOwner { nickname } reason }
    ... on RemovedFromChat { chatId }
    ... on MemberLeft { user { nickname } }
  }
}"""


async def caught_up(gw: Gateway, ws: GraphQLSocket, op: str, sender: User, chat_id: str) -> None:
    """Until a chatEvents subscription started "from now" has caught up. It listens before
    it reads what committed while it started: a change made before that read ends comes in
    the catch-up too (its system line as a MessageAdded), ahead of its own live event. A
    message sent now comes once (catch-up or live, never both), and after the catch-up."""
    await gw.send(sender, chat_id, "warm-up")
    assert (await next_data(ws, op))["data"]["chatEvents"] == {"__typename": "MessageAdded"}


async def test_rename_remove_and_hand_on(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    carol = await gateway.register("Carol")
    chat_id = await gateway.create_chat(alice, "Room", bob, carol)
    renamed = await typename(gateway, RENAME, {"chatId": chat_id, "name": "Garden"}, alice.token)
    assert renamed == {"__typename": "RenameChatPayload", "chat": {"id": chat_id, "name": "Garden"}}
    removed = await typename(gateway, REMOVE, {"chatId": chat_id, "userId": bob.id}, alice.token)
    assert removed["__typename"] == "RemoveMemberPayload"
    assert removed["userId"] == bob.id
    assert [m["user"]["nickname"] for m in removed["chat"]["members"]] == ["Alice", "Carol"]
    handed = await typename(gateway, TRANSFER, {"chatId": chat_id, "userId": carol.id}, alice.token)
    assert handed == {
        "__typename": "TransferOwnershipPayload",
        "owner": {"user": {"nickname": "Carol"}, "role": "OWNER"},
        "chat": {"myRole": "MEMBER"},
    }


async def test_each_refusal_is_a_typed_error(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    eve = await gateway.register("Eve")
    chat_id = await gateway.create_chat(alice, "Room", bob)
    mutations = [
        (RENAME, {"chatId": chat_id, "name": "X"}),
        (REMOVE, {"chatId": chat_id, "userId": alice.id}),
        (TRANSFER, {"chatId": chat_id, "userId": bob.id}),
    ]
    for query, variables in mutations:
        not_owner = await typename(gateway, query, variables, bob.token)
        assert (not_owner["__typename"], not_owner["code"]) == ("NotOwner", "not_owner")
        outsider = await typename(gateway, query, variables, eve.token)
        assert outsider["__typename"] == "NotAMember"
        unknown = await typename(gateway, query, {**variables, "chatId": "bogus"}, alice.token)
        assert unknown["__typename"] == "NotFound"
        anonymous = await typename(gateway, query, variables, None)
        assert anonymous["__typename"] == "Unauthenticated"
    for query in (REMOVE, TRANSFER):
        yourself = await typename(
            gateway, query, {"chatId": chat_id, "userId": alice.id}, alice.token
        )
        assert (yourself["__typename"], yourself["field"]) == ("ValidationError", "userId")
        stranger = await typename(
            gateway, query, {"chatId": chat_id, "userId": eve.id}, alice.token
        )
        assert stranger["__typename"] == "NotFound"
        bad_id = await typename(gateway, query, {"chatId": chat_id, "userId": chat_id}, alice.token)
        assert (bad_id["__typename"], bad_id["field"]) == ("ValidationError", "userId")
    empty = await typename(gateway, RENAME, {"chatId": chat_id, "name": " "}, alice.token)
    assert (empty["__typename"], empty["field"]) == ("ValidationError", "name")


async def test_direct_chats(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    await gateway.register("Carol")
    first = await typename(gateway, DIRECT, {"nickname": "bob"}, alice.token)
    assert first["__typename"] == "StartDirectChatPayload"
    assert first["created"] is True
    chat = first["chat"]
    assert (chat["name"], chat["isDirect"], chat["directWith"]) == (
        "Bob",
        True,
        {"nickname": "Bob"},
    )
    again = await typename(gateway, DIRECT, {"nickname": "Alice"}, bob.token)
    assert again["created"] is False
    assert (again["chat"]["id"], again["chat"]["name"]) == (chat["id"], "Alice")
    listed = await gateway.data("{ chats { edges { node { name isDirect } } } }", None, bob.token)
    assert listed["chats"]["edges"] == [{"node": {"name": "Alice", "isDirect": True}}]
    for nickname, kind, field in [
        ("Alice", "ValidationError", "nickname"),
        ("zed", "NotFound", None),
    ]:
        refused = await typename(gateway, DIRECT, {"nickname": nickname}, alice.token)
        assert refused["__typename"] == kind
        assert refused.get("field") == field
    add = await typename(
        gateway, ADD_MEMBER, {"chatId": chat["id"], "nickname": "Carol"}, alice.token
    )
    assert (add["__typename"], add["code"]) == ("NotAllowed", "direct_chat")
    rename = await typename(gateway, RENAME, {"chatId": chat["id"], "name": "Us"}, alice.token)
    assert (rename["__typename"], rename["code"]) == ("NotAllowed", "direct_chat")
    remove = await typename(gateway, REMOVE, {"chatId": chat["id"], "userId": bob.id}, alice.token)
    assert remove["__typename"] == "NotAllowed"


@pytest.mark.parametrize("stream", ["messageAdded", "chatEvents"])
async def test_a_removed_member_stops_receiving_at_once(live: LiveServer, stream: str) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        async with live.subscribing():
            if stream == "messageAdded":
                op = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
            else:
                op = await ws.subscribe(CHAT_EVENTS)
        if stream == "chatEvents":
            await caught_up(gw, ws, op, alice, chat_id)
        removed = await typename(gw, REMOVE, {"chatId": chat_id, "userId": bob.id}, alice.token)
        assert removed["__typename"] == "RemoveMemberPayload"
        payload = await next_data(ws, op)
        if stream == "messageAdded":
            assert payload["errors"][0]["extensions"]["code"] == "NOT_A_MEMBER"
            assert await ws.next_payload() == {"id": op, "type": "complete"}
        else:
            assert payload["data"]["chatEvents"] == {
                "__typename": "RemovedFromChat",
                "chatId": chat_id,
            }
            await gw.send(alice, chat_id, "after bob left")  # never reaches Bob
            await typename(gw, RENAME, {"chatId": chat_id, "name": "Quiet"}, alice.token)
            with pytest.raises(TimeoutError):
                await ws.next_payload(timeout=0.5)


async def test_members_see_each_owner_action_live(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    carol = await gw.register("Carol")
    chat_id = await gw.create_chat(alice, "Room", bob, carol)
    async with graphql_socket(live.ws_url, token=carol.token) as ws:
        async with live.subscribing():
            op = await ws.subscribe(CHAT_EVENTS)
        await caught_up(gw, ws, op, alice, chat_id)
        await typename(gw, RENAME, {"chatId": chat_id, "name": "Garden"}, alice.token)
        assert (await next_data(ws, op))["data"]["chatEvents"] == {
            "__typename": "ChatRenamed",
            "chatId": chat_id,
            "name": "Garden",
            "previousName": "Room",
            "by": {"nickname": "Alice"},
        }
        await typename(gw, REMOVE, {"chatId": chat_id, "userId": bob.id}, alice.token)
        assert (await next_data(ws, op))["data"]["chatEvents"] == {
            "__typename": "MemberRemoved",
            "chatId": chat_id,
            "user": {"nickname": "Bob"},
            "by": {"nickname": "Alice"},
        }
        await typename(gw, LEAVE, {"chatId": chat_id}, alice.token)
        assert (await next_data(ws, op))["data"]["chatEvents"]["__typename"] == "MemberLeft"
        assert (await next_data(ws, op))["data"]["chatEvents"] == {
            "__typename": "OwnerChanged",
            "chatId": chat_id,
            "owner": {"nickname": "Carol"},
            "previousOwner": {"nickname": "Alice"},
            "reason": "owner_left",
        }
