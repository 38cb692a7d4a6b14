"""Typed async clients for auth_service and chat_service (docs/internal-api.md).

One code path for both deployments: the transport either calls the in-process app (embedded) or
a base URL over HTTP (topology), see transport.py. Every call forwards the caller's token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, NotRequired, TypedDict, cast

import orjson

from gateway.transport import ConnectionDropped, Reply, ServiceTransport, TransportError


class UserData(TypedDict):
    id: int
    login: NotRequired[str]
    nickname: str


class ChatData(TypedDict):
    id: int
    name: str
    created_at: str
    created_by: int | None
    last_activity_at: str
    last_message_id: int | None
    my_role: str
    unread_count: int | None  # None when asked for without it
    direct: NotRequired[bool]  # a one-to-one chat (named after `peer` for the caller)
    peer: NotRequired[UserData | None]


class MemberData(TypedDict):
    user_id: int
    nickname: str
    role: str
    joined_at: str
    last_read_message_id: NotRequired[int]


class QuoteData(TypedDict):
    id: int
    sender_id: int
    sender_nickname: str
    text: str
    deleted_at: str | None


class ReactionData(TypedDict):
    emoji: str
    count: int
    users: list[UserData]


class MessageData(TypedDict):
    id: int
    chat_id: int
    sender_id: int
    sender_nickname: str
    text: str
    created_at: str
    client_id: str | None
    edited_at: NotRequired[str | None]
    deleted_at: NotRequired[str | None]
    reply_to: NotRequired[QuoteData | None]
    reactions: NotRequired[list[ReactionData]]
    kind: NotRequired[str | None]


class ChatStateData(ChatData):
    last_message: MessageData | None
    unread_counted_up_to: int  # the newest message id unread_count took into account
    newest_line_id: int  # the chat's newest line of any kind (system lines too)


class SearchPage(TypedDict):
    messages: list[MessageData]  # newest first
    has_more: bool
    terms: list[str]  # the words searched for, as the index saw them (to mark in results)


class AuthData(TypedDict):
    token: str
    user: UserData


class ListedChatData(ChatData):
    last_message: NotRequired[MessageData | None]  # asked for with last_message=True


class ChatPage(TypedDict):
    chats: list[ListedChatData]
    next_cursor: str | None


class MessagePage(TypedDict):
    messages: list[MessageData]
    has_more: bool
    chat: NotRequired[ChatData]  # asked for with with_chat=True


class ServiceError(Exception):
    """An expected failure a service reported: {"error", "code", "field"?} with a 4xx status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after


class ServiceUnavailable(Exception):
    """A service answered 5xx or garbage, or could not be reached: unexpected, masked."""


InFlight = set[asyncio.Future[Reply]]


def _ids(values: Iterable[int]) -> str:
    return ",".join(str(value) for value in values)


class ServiceClient:
    """JSON calls to one service as one caller (token forwarded when there is one)."""

    def __init__(
        self,
        transport: ServiceTransport,
        token: str | None,
        in_flight: InFlight,
        client_host: str | None = None,
        slots: asyncio.Semaphore | None = None,
        user_agent: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self._transport = transport
        # Bounds the caller's calls in flight (gateway/limits.py): one caller's heavy request
        # waits for its own earlier calls instead of taking every database connection.
        self._slots = slots
        # Requests that may outlive a cancelled caller, referenced so they are not collected.
        self._in_flight = in_flight
        self._headers = {"authorization": f"Bearer {token}"} if token else {}
        if client_host:
            # The services trust it from the gateway only (uvicorn's forwarded_allow_ips).
            self._headers["x-forwarded-for"] = client_host
        if user_agent:
            # Names the device of a new session (the sessions list shows it).
            self._headers["user-agent"] = user_agent
        if request_id:
            # The services log the same id: one request followed through every process.
            self._headers["x-request-id"] = request_id

    async def _send(
        self, method: str, path: str, params: Mapping[str, str | int] | None, body: bytes | None
    ) -> Reply:
        """One request; a read that met a pooled connection the service had just closed (the
        keep-alive race) is sent once more. Writes are never repeated behind the caller's back.
        """
        if self._slots is None:
            return await self._send_once(method, path, params, body)
        async with self._slots:
            return await self._send_once(method, path, params, body)

    async def _send_once(
        self, method: str, path: str, params: Mapping[str, str | int] | None, body: bytes | None
    ) -> Reply:
        try:
            return await self._transport.request(
                method, path, params=params, body=body, headers=self._headers
            )
        except ConnectionDropped:
            if method != "GET":
                raise
            return await self._transport.request(
                method, path, params=params, body=body, headers=self._headers
            )

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = None if json is None else orjson.dumps(json)
        # Shielded: a cancelled subscription (client gone) must not cancel a request half-way
        # through the in-process service, which would abandon its database work mid-query.
        request = asyncio.ensure_future(self._send(method, path, params, body))
        self._in_flight.add(request)
        request.add_done_callback(self._in_flight.discard)
        try:
            response = await asyncio.shield(request)
        except TransportError as error:
            raise ServiceUnavailable(f"{method} {path}: {error}") from error
        try:
            answer = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise ServiceUnavailable(f"{method} {path}: {response.status} without JSON")
        if response.status >= 500:
            raise ServiceUnavailable(f"{method} {path}: {response.status}")
        if response.status >= 400:
            raise service_error(response.status, answer)
        return answer


def service_error(status: int, body: dict[str, Any]) -> ServiceError:
    """A service's error answer (`{error, code, field?, retry_after?}`) as a ServiceError."""
    retry_after = body.get("retry_after")
    field = body.get("field")
    return ServiceError(
        status,
        str(body.get("code") or "error"),
        str(body.get("error") or body.get("message") or "Request failed"),
        field=field if isinstance(field, str) else None,
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
    )


class AuthClient(ServiceClient):
    async def register(self, login: str, password: str, nickname: str) -> AuthData:
        body = {"login": login, "password": password, "nickname": nickname}
        return cast(AuthData, await self.call("POST", "/mychat/api/auth/register", json=body))

    async def login(self, login: str, password: str) -> AuthData:
        body = {"login": login, "password": password}
        return cast(AuthData, await self.call("POST", "/mychat/api/auth/login", json=body))


class SessionData(TypedDict):
    id: str
    device: str
    created_at: str
    last_used_at: str
    current: bool


class AccountClient(ServiceClient):
    """auth_service's account endpoints (auth_service/account_routes.py)."""

    async def sessions(self) -> list[SessionData]:
        return cast(list[SessionData], (await self.call("GET", "/internal/sessions"))["sessions"])

    async def end_session(self, session_id: str) -> int:
        body = await self.call("POST", "/internal/sessions/end", json={"session_id": session_id})
        return int(body["signed_out"])

    async def sign_out(self) -> int:
        return int((await self.call("POST", "/internal/sessions/sign-out"))["signed_out"])

    async def sign_out_everywhere(self) -> int:
        body = await self.call("POST", "/internal/sessions/sign-out-everywhere")
        return int(body["signed_out"])

    async def touch_session(self) -> None:
        await self.call("POST", "/internal/sessions/touch")

    async def revoked_sessions(self) -> dict[str, float]:
        body = await self.call("GET", "/internal/sessions/revoked")
        return {str(sid): float(until) for sid, until in body["sessions"].items()}

    async def change_password(self, old_password: str, new_password: str) -> int:
        body = {"old_password": old_password, "new_password": new_password}
        answer = await self.call("POST", "/internal/account/password", json=body)
        return int(answer["signed_out"])

    async def delete_account(self, password: str) -> None:
        await self.call("POST", "/internal/account/delete", json={"password": password})


class ChatClient(ServiceClient):
    async def chats(self, first: int, after: str | None, *, last_message: bool = False) -> ChatPage:
        """A page of the caller's chats; last_message=True adds each one's newest message."""
        params: dict[str, str | int] = {"first": first}
        if after is not None:
            params["after"] = after
        if last_message:
            params["last_message"] = 1
        return cast(ChatPage, await self.call("GET", "/internal/chats", params=params))

    async def chats_batch(self, ids: Iterable[int]) -> list[ChatData]:
        body = await self.call("GET", "/internal/chats/batch", params={"ids": _ids(ids)})
        return cast(list[ChatData], body["chats"])

    async def chat_state(self, ids: Iterable[int] | None = None) -> list[ChatStateData]:
        """The caller's chats (all, or those of `ids`) with unread counts and newest messages."""
        params = None if ids is None else {"chat_ids": _ids(ids)}
        body = await self.call("GET", "/internal/chat-state", params=params)
        return cast(list[ChatStateData], body["chats"])

    async def chat_ids(self) -> list[int]:
        body = await self.call("GET", "/internal/chat-ids")
        return [int(chat_id) for chat_id in body["chat_ids"]]

    async def contacts(self, ids: Iterable[int]) -> list[UserData]:
        """The users among `ids` the caller shares a chat with (and the caller)."""
        body = await self.call("GET", "/internal/contacts", params={"ids": _ids(ids)})
        return cast(list[UserData], body["users"])

    async def members(self, chat_ids: Iterable[int]) -> dict[int, list[MemberData]]:
        body = await self.call("GET", "/internal/members", params={"chat_ids": _ids(chat_ids)})
        members = cast(dict[str, list[MemberData]], body["members"])
        return {int(chat_id): rows for chat_id, rows in members.items()}

    async def last_messages(self, chat_ids: Iterable[int]) -> dict[int, MessageData | None]:
        params = {"chat_ids": _ids(chat_ids)}
        body = await self.call("GET", "/internal/last-messages", params=params)
        messages = cast(dict[str, MessageData | None], body["messages"])
        return {int(chat_id): message for chat_id, message in messages.items()}

    async def messages(
        self,
        chat_id: int,
        *,
        first: int | None = None,
        after: int | None = None,
        last: int | None = None,
        before: int | None = None,
        with_chat: bool = False,
        unread: bool = True,
    ) -> MessagePage:
        """A page of one chat; with_chat=True adds the chat (with its unread count if unread)."""
        params: dict[str, str | int] = {}
        for name, value in (("first", first), ("after", after), ("last", last), ("before", before)):
            if value is not None:
                params[name] = value
        if with_chat:
            params["with_chat"] = 1
            if not unread:
                params["unread"] = 0
        path = f"/internal/chats/{chat_id}/messages"
        return cast(MessagePage, await self.call("GET", path, params=params))

    async def messages_after(self, after: int, limit: int) -> MessagePage:
        params = {"after": after, "limit": limit}
        return cast(MessagePage, await self.call("GET", "/internal/messages", params=params))

    async def create_chat(self, name: str, member_nicknames: list[str]) -> ChatData:
        body = {"name": name, "member_nicknames": member_nicknames}
        return cast(ChatData, (await self.call("POST", "/internal/chats", json=body))["chat"])

    async def add_member(self, chat_id: int, nickname: str) -> MemberData:
        path = f"/internal/chats/{chat_id}/members"
        body = await self.call("POST", path, json={"nickname": nickname})
        return cast(MemberData, body["member"])

    async def leave(self, chat_id: int) -> None:
        await self.call("POST", f"/internal/chats/{chat_id}/leave")

    async def send_message(
        self, chat_id: int, text: str, client_id: str | None, reply_to_id: int | None = None
    ) -> MessageData:
        payload: dict[str, Any] = {"text": text}
        if client_id is not None:
            payload["client_id"] = client_id
        if reply_to_id is not None:
            payload["reply_to_id"] = reply_to_id
        body = await self.call("POST", f"/internal/chats/{chat_id}/messages", json=payload)
        return cast(MessageData, body["message"])

    async def rename_chat(self, chat_id: int, name: str) -> ChatData:
        body = await self.call("POST", f"/internal/chats/{chat_id}/name", json={"name": name})
        return cast(ChatData, body["chat"])

    async def remove_member(self, chat_id: int, user_id: int) -> None:
        path = f"/internal/chats/{chat_id}/remove-member"
        await self.call("POST", path, json={"user_id": user_id})

    async def transfer_ownership(self, chat_id: int, user_id: int) -> MemberData:
        path = f"/internal/chats/{chat_id}/owner"
        body = await self.call("POST", path, json={"user_id": user_id})
        return cast(MemberData, body["member"])

    async def start_direct_chat(self, nickname: str) -> tuple[ChatData, bool]:
        body = await self.call("POST", "/internal/direct-chats", json={"nickname": nickname})
        return cast(ChatData, body["chat"]), bool(body["created"])

    async def search(
        self, query: str, first: int, before: int | None, chat_id: int | None
    ) -> SearchPage:
        params: dict[str, str | int] = {"q": query, "first": first}
        if before is not None:
            params["before"] = before
        if chat_id is not None:
            params["chat_id"] = chat_id
        return cast(SearchPage, await self.call("GET", "/internal/search", params=params))

    async def edit_message(self, message_id: int, text: str) -> MessageData:
        path = f"/internal/messages/{message_id}/edit"
        body = await self.call("POST", path, json={"text": text})
        return cast(MessageData, body["message"])

    async def toggle_reaction(self, message_id: int, emoji: str) -> MessageData:
        path = f"/internal/messages/{message_id}/reactions"
        body = await self.call("POST", path, json={"emoji": emoji})
        return cast(MessageData, body["message"])

    async def delete_message(self, message_id: int) -> MessageData:
        body = await self.call("POST", f"/internal/messages/{message_id}/delete")
        return cast(MessageData, body["message"])

    async def typing(self, chat_id: int, typing: bool) -> None:
        await self.call("POST", f"/internal/chats/{chat_id}/typing", json={"typing": typing})
