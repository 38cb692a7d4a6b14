"""DataLoaders: one service call per kind of object per execution tick, not one per object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from gateway.clients import (
    ChatClient,
    ChatData,
    MemberData,
    MessageData,
    MessagePage,
    UserData,
)

if TYPE_CHECKING:
    from gateway.presence import Seen

PresenceLookup = Callable[[list[int]], Awaitable[dict[int, "Seen"]]]

# The services accept at most 500 ids per call.
MAX_BATCH = 500


async def _load_users(chat: Callable[[], ChatClient], ids: list[int]) -> list[UserData | None]:
    """Users the caller may see (shares a chat with), None for anyone else: chat_service knows
    who shares a chat with whom."""
    found = {user["id"]: user for user in await chat().contacts(ids)}
    return [found.get(user_id) for user_id in ids]


async def _load_chats(
    chat: Callable[[], ChatClient], listed: dict[int, ChatData], ids: list[int]
) -> list[ChatData | None]:
    """Rows the request has already read (`listed`: its chat list), the others asked for."""
    missing = [chat_id for chat_id in ids if chat_id not in listed]
    found = {row["id"]: row for row in await chat().chats_batch(missing)} if missing else {}
    return [listed.get(chat_id) or found.get(chat_id) for chat_id in ids]


async def _load_members(chat: Callable[[], ChatClient], ids: list[int]) -> list[list[MemberData]]:
    found = await chat().members(ids)
    return [found.get(chat_id, []) for chat_id in ids]


async def _load_last_messages(
    chat: Callable[[], ChatClient], ids: list[int]
) -> list[MessageData | None]:
    found = await chat().last_messages(ids)
    return [found.get(chat_id) for chat_id in ids]


class Loaders:
    """Fresh per HTTP request and per WebSocket operation (per event for subscriptions).

    Each loader is built on first use: most operations use one or two of them, and an idle
    subscription none, while a DataLoader with its cache and batch state costs ~1 KB.
    """

    __slots__ = (
        "_chat",
        "_chats",
        "_last_messages",
        "_listed_chats",
        "_members",
        "_message_pages",
        "_presence",
        "_presence_lookup",
        "_users",
    )

    def __init__(
        self, chat: Callable[[], ChatClient], presence_lookup: PresenceLookup | None = None
    ) -> None:
        self._chat = chat
        self._presence_lookup = presence_lookup
        self._presence: DataLoader[int, Seen | None] | None = None
        self._users: DataLoader[int, UserData | None] | None = None
        self._chats: DataLoader[int, ChatData | None] | None = None
        self._listed_chats: dict[int, ChatData] | None = None
        self._members: DataLoader[int, list[MemberData]] | None = None
        self._last_messages: DataLoader[int, MessageData | None] | None = None
        self._message_pages: dict[tuple[int, bool, int, int | None], MessagePage] | None = None

    @property
    def users(self) -> DataLoader[int, UserData | None]:
        if self._users is None:
            self._users = DataLoader(partial(_load_users, self._chat), max_batch_size=MAX_BATCH)
        return self._users

    @property
    def chats(self) -> DataLoader[int, ChatData | None]:
        if self._chats is None:
            if self._listed_chats is None:
                self._listed_chats = {}
            self._chats = DataLoader(
                partial(_load_chats, self._chat, self._listed_chats), max_batch_size=MAX_BATCH
            )
        return self._chats

    @property
    def members(self) -> DataLoader[int, list[MemberData]]:
        if self._members is None:
            self._members = DataLoader(partial(_load_members, self._chat), max_batch_size=MAX_BATCH)
        return self._members

    @property
    def last_messages(self) -> DataLoader[int, MessageData | None]:
        if self._last_messages is None:
            self._last_messages = DataLoader(
                partial(_load_last_messages, self._chat), max_batch_size=MAX_BATCH
            )
        return self._last_messages

    @property
    def message_pages(self) -> dict[tuple[int, bool, int, int | None], MessagePage]:
        """Message pages fetched together with their chat (`chat(id) { messages(...) }` is one
        service call), keyed by (chat id, forward, size, cursor); Chat.messages takes its own.
        """
        if self._message_pages is None:
            self._message_pages = {}
        return self._message_pages

    @property
    def presence(self) -> DataLoader[int, Seen | None]:
        """Online and last seen, from the presence store (one round trip per tick)."""
        if self._presence is None:
            lookup = self._presence_lookup

            async def load(ids: list[int]) -> list[Seen | None]:
                found = await lookup(ids) if lookup is not None else {}
                return [found.get(user_id) for user_id in ids]

            self._presence = DataLoader(load, max_batch_size=MAX_BATCH)
        return self._presence

    def prime_chats(self, chats: Sequence[ChatData]) -> None:
        """Rows read already (a page of the chat list): `chats` answers them without a service
        call. Kept as rows rather than primed into the loader (a future each, ~2 us): most
        requests never ask for them again."""
        if self._listed_chats is None:
            self._listed_chats = {}
        for chat_row in chats:
            self._listed_chats[chat_row["id"]] = chat_row
