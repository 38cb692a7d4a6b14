"""DataLoaders: one service call per kind of object per execution tick, not one per object."""

from __future__ import annotations

from collections.abc import Callable

from strawberry.dataloader import DataLoader

from gateway.clients import (
    AuthClient,
    ChatClient,
    ChatData,
    MemberData,
    MessageData,
    MessagePage,
    UserData,
)

# The services accept at most 500 ids per call.
MAX_BATCH = 500


class Loaders:
    """Fresh per HTTP request and per WebSocket operation (per event for subscriptions)."""

    def __init__(self, auth: Callable[[], AuthClient], chat: Callable[[], ChatClient]) -> None:
        async def load_users(ids: list[int]) -> list[UserData | None]:
            found = {user["id"]: user for user in await auth().users(ids)}
            return [found.get(user_id) for user_id in ids]

        async def load_chats(ids: list[int]) -> list[ChatData | None]:
            found = {chat_row["id"]: chat_row for chat_row in await chat().chats_batch(ids)}
            return [found.get(chat_id) for chat_id in ids]

        async def load_members(ids: list[int]) -> list[list[MemberData]]:
            found = await chat().members(ids)
            return [found.get(chat_id, []) for chat_id in ids]

        async def load_last_messages(ids: list[int]) -> list[MessageData | None]:
            found = await chat().last_messages(ids)
            return [found.get(chat_id) for chat_id in ids]

        self.users = DataLoader(load_users, max_batch_size=MAX_BATCH)
        self.chats = DataLoader(load_chats, max_batch_size=MAX_BATCH)
        self.members = DataLoader(load_members, max_batch_size=MAX_BATCH)
        self.last_messages = DataLoader(load_last_messages, max_batch_size=MAX_BATCH)
        # Message pages fetched together with their chat (`chat(id) { messages(...) }` is one
        # service call), keyed by (chat id, forward, size, cursor); Chat.messages takes its own.
        self.message_pages: dict[tuple[int, bool, int, int | None], MessagePage] = {}

    def prime_chats(self, chats: list[ChatData]) -> None:
        for chat_row in chats:
            self.chats.prime(chat_row["id"], chat_row)
