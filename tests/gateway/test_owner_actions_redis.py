"""A member removed through one gateway stops receiving at once on another (Redis broker)."""

from __future__ import annotations

import pytest

from tests.gateway.test_http_api import typename
from tests.gateway.test_owner_actions import CHAT_EVENTS, REMOVE
from tests.gateway.test_redis_gateways import AcrossGateways, across, processes
from tests.gateway.test_subscriptions import MESSAGE_ADDED, settle

pytestmark = pytest.mark.redis
__all__ = ["across", "processes"]  # fixtures, used by name


async def test_removal_ends_the_subscriptions_on_every_gateway(across: AcrossGateways) -> None:
    ws = across.bob_on_first
    messages = await ws.subscribe(MESSAGE_ADDED, {"chatId": across.chat_id})
    events = await ws.subscribe(CHAT_EVENTS)
    await settle()
    variables = {"chatId": across.chat_id, "userId": across.bob.id}
    removed = await typename(across.via_second, REMOVE, variables, across.alice.token)
    assert removed["__typename"] == "RemoveMemberPayload"
    # The two subscriptions are independent streams: their messages may interleave.
    by_id: dict[str, list[dict[str, object]]] = {events: [], messages: []}
    while len(by_id[events]) < 1 or len(by_id[messages]) < 2:
        message = await ws.next_payload()
        by_id[message["id"]].append(message)
    (removal,) = by_id[events]
    payload = removal["payload"]
    assert isinstance(payload, dict)
    assert payload["data"]["chatEvents"] == {
        "__typename": "RemovedFromChat",
        "chatId": across.chat_id,
    }
    ended, completed = by_id[messages]
    error = ended["payload"]
    assert isinstance(error, dict)
    assert error["errors"][0]["extensions"]["code"] == "NOT_A_MEMBER"
    assert completed == {"id": messages, "type": "complete"}
