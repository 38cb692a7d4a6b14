"""chat_service.publish_order: each chat's groups published in ticket order, those whose turn
came while another was publishing sent together, unrelated chats never held up."""

from __future__ import annotations

import asyncio

from chat_service.publish_order import PublishOrder


class Recorder:
    """A send that records its batches; `gate` (when cleared) holds a send until set."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.sending = asyncio.Event()

    async def send(self, items: list[str]) -> None:
        self.sending.set()
        await self.gate.wait()
        self.batches.append(items)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_groups_waiting_for_their_turn_go_out_together_in_order() -> None:
    recorder = Recorder()
    order: PublishOrder[str] = PublishOrder(recorder.send)
    a, b, c = (order.take([7]) for _ in range(3))
    later = [
        asyncio.create_task(order.publish(c, ["c"])),
        asyncio.create_task(order.publish(b, ["b"])),
    ]
    await settle()
    assert recorder.batches == []  # their turn has not come: a has not published
    await order.publish(a, ["a1", "a2"])
    await asyncio.gather(*later)
    assert recorder.batches == [["a1", "a2", "b", "c"]]


async def test_a_group_arriving_while_another_publishes_goes_next() -> None:
    recorder = Recorder()
    order: PublishOrder[str] = PublishOrder(recorder.send)
    a, b = order.take([7]), order.take([7])
    recorder.gate.clear()
    first = asyncio.create_task(order.publish(a, ["a"]))
    await recorder.sending.wait()
    second = asyncio.create_task(order.publish(b, ["b"]))
    await settle()
    assert not second.done()
    recorder.gate.set()
    await asyncio.gather(first, second)
    assert recorder.batches == [["a"], ["b"]]


async def test_other_chats_do_not_wait() -> None:
    recorder = Recorder()
    order: PublishOrder[str] = PublishOrder(recorder.send)
    x, y = order.take([1]), order.take([2])
    await order.publish(y, ["y"])  # x (another chat) has not published: y goes anyway
    assert recorder.batches == [["y"]]
    await order.publish(x, ["x"])
    assert recorder.batches == [["y"], ["x"]]


async def test_a_group_that_gives_up_lets_the_next_go_and_is_never_sent() -> None:
    recorder = Recorder()
    order: PublishOrder[str] = PublishOrder(recorder.send)
    a, b, c = order.take([7]), order.take([7, 8]), order.take([8])
    waiting_b = asyncio.create_task(order.publish(b, ["b"]))  # after a (chat 7)
    waiting_c = asyncio.create_task(order.publish(c, ["c"]))  # after b (chat 8)
    await settle()
    assert recorder.batches == []
    waiting_b.cancel()  # b's caller stops waiting and gives its ticket up, as the Sender does
    order.release(b)
    await waiting_c  # c's turn came when b gave up
    assert waiting_b.cancelled()
    await order.publish(a, ["a"])
    assert recorder.batches == [["c"], ["a"]]  # b's items never went out
