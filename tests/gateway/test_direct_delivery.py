"""Live MessageAdded events written straight to the socket (gateway/direct_delivery.py): in
order with the events the stream sends, nothing after complete/stop, the stream's way when
the event has no template, and a frame the socket made wait is not overtaken."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bench.web_operations import sent
from gateway.direct_frames import FrameTarget, start_now
from tests.gateway.conftest import LiveServer
from tests.gateway.test_live_signals import MARK_READ, event_of, next_event
from tests.gateway.test_viewer_slots import stats_of
from tests.support.websocket import LEGACY_WS, TRANSPORT_WS, data_type, graphql_socket

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]
# chatEvents with a field no template may hold (members: a resolver per viewer).
WITH_MEMBERS = """
subscription Events($after: ID) {
  chatEvents(after: $after) {
    __typename
    ... on MessageAdded {
      message { id text }
      chat { id unreadCount members { user { nickname } } }
    }
  }
}
"""


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_messages_and_read_receipts_arrive_in_order(live: LiveServer, protocol: str) -> None:
    """Bob's MessageAdded events go directly, his MessagesRead through the stream: in the
    order they were published (the read's receipt before the message sent right after it),
    with his unread count exact after the read."""
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    start = await gw.send(alice, chat_id, "start")
    async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
        async with live.subscribing():
            await ws.subscribe(sent("CHAT_EVENTS"), {"after": start["id"]})
        await gw.send(alice, chat_id, "warm-up")  # after it, the catch-up is over
        assert (await event_of(ws, "MessageAdded"))["chat"]["unreadCount"] == 2
        async with stats_of(live) as moved:
            first = await gw.send(alice, chat_id, "a")
            second = await gw.send(alice, chat_id, "b")
            # Bob's first marker is written (and its receipt published) before the answer.
            read = await gw.data(
                MARK_READ, {"chatId": chat_id, "messageId": first["id"]}, bob.token
            )
            assert read["markRead"]["__typename"] == "MarkReadPayload", read
            third = await gw.send(alice, chat_id, "c")
            fourth = await gw.send(alice, chat_id, "d")
            expected = [
                ("MessageAdded", first["id"]),
                ("MessageAdded", second["id"]),
                ("MessagesRead", int(first["databaseId"])),
                ("MessageAdded", third["id"]),
                ("MessageAdded", fourth["id"]),
            ]
            got: list[tuple[str, Any]] = []
            unread = []
            while len(got) < len(expected):
                event = await next_event(ws)
                if event["__typename"] == "MessageAdded":
                    got.append(("MessageAdded", event["message"]["id"]))
                    unread.append(event["chat"]["unreadCount"])
                elif event["__typename"] == "MessagesRead" and event["user"]["id"] == bob.id:
                    got.append(("MessagesRead", event["readUpTo"]))
    assert got == expected
    assert unread == [3, 4, 2, 3]  # after the read only "b" was left unread
    assert moved.direct == 4


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_nothing_after_complete(live: LiveServer, protocol: str) -> None:
    """The client ends the subscription: no frame of it follows, though messages do."""
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    start = await gw.send(alice, chat_id, "start")
    async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
        async with live.subscribing():
            op = await ws.subscribe(sent("CHAT_EVENTS"), {"after": start["id"]})
        await gw.send(alice, chat_id, "live")
        await event_of(ws, "MessageAdded")
        await ws.stop(op)
        for n in range(5):
            await gw.send(alice, chat_id, f"after {n}")
        frames = await ws.until_quiet(1.0)
    kinds = [frame["type"] for frame in frames if frame["type"] not in ("ka", "ping", "pong")]
    # graphql-ws's server says `complete` to a stop; graphql-transport-ws's says nothing.
    assert data_type(protocol) not in kinds, frames
    assert kinds in ([], ["complete"]), frames


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_event_without_template_takes_the_stream(live: LiveServer, protocol: str) -> None:
    """A document no template can serve: each MessageAdded still arrives once, in order,
    with the viewer's count, and none is written directly."""
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    start = await gw.send(alice, chat_id, "start")
    async with AsyncExitStack() as stack:
        ws = await stack.enter_async_context(graphql_socket(live.ws_url, protocol, token=bob.token))
        async with live.subscribing():
            await ws.subscribe(WITH_MEMBERS, {"after": start["id"]})
        await gw.send(alice, chat_id, "warm-up")
        await next_event(ws)
        async with stats_of(live) as moved:
            sent_ids = [(await gw.send(alice, chat_id, f"m{n}"))["id"] for n in range(5)]
            events = [await next_event(ws) for _ in sent_ids]
    assert [event["message"]["id"] for event in events] == sent_ids
    assert [event["chat"]["unreadCount"] for event in events] == [3, 4, 5, 6, 7]
    assert {m["user"]["nickname"] for m in events[0]["chat"]["members"]} == {"Alice", "Bob"}
    assert moved.direct == 0


async def test_a_frame_the_socket_made_wait_is_not_overtaken() -> None:
    """A send that waits (a socket whose buffer is full) finishes in a task; meanwhile the
    target is busy, and `written` returns once that frame is out."""
    sent_frames: list[str] = []
    room = asyncio.get_running_loop().create_future()

    async def send_text(text: str) -> None:
        if not room.done():
            await room  # the transport is paused
        sent_frames.append(text)

    target = FrameTarget(send_text, "7", legacy=False)
    target.write(b'{"n":1}')
    assert target.busy
    assert sent_frames == []
    waiting = asyncio.ensure_future(target.written())
    await asyncio.sleep(0)
    assert not waiting.done()
    room.set_result(None)
    await waiting
    assert not target.busy
    assert sent_frames == ['{"id":"7","type":"next","payload":{"data":{"n":1}}}']
    target.write(b'{"n":2}')  # the socket takes it at once: no task
    assert not target.busy
    assert len(sent_frames) == 2
    legacy = FrameTarget(send_text, "8", legacy=True)
    legacy.write(b"{}")
    assert sent_frames[-1] == '{"id":"8","type":"data","payload":{"data":{}}}'


async def test_a_started_send_that_fails_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("socket broke")

    task = start_now(failing())
    assert task is not None
    await task
    assert "writing a frame failed" in caplog.text
