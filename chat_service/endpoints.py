"""What every chat endpoint shares: auth, body and query parsing, the connection, errors.

Public (seed) and internal handlers are small functions of a `Call`; `endpoint()` turns one into
a Starlette handler, so parsing and transaction handling are written once. Each route says what
it does to the database (`Work`): reads run on an autocommit connection, writes in one unit of
work, sends in a transaction shared with other sends (chat_service.sending).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from chat_service.access import chat_not_found
from chat_service.indexing import SearchIndexer
from chat_service.loop_reads import LoopReader
from chat_service.members import do_add_member
from chat_service.read_markers import ReadMarkers
from chat_service.replies import quote_for_reply
from chat_service.sending import Sender, check_send_rate
from chat_service.unit_of_work import UnitOfWork, unit_of_work
from chat_service.views import MemberView, MessageView
from mychat.bounds import MAX_DATABASE_ID
from mychat.broker import Broker
from mychat.http import ApiError, JSONResponse, RateLimited, read_json_object
from mychat.loop_sqlite import short_read
from mychat.ratelimit import RateLimiter
from mychat.service import authenticate, resources

MAX_ID = MAX_DATABASE_ID
IDS_MAX = 500
_DIGITS = re.compile(r"[0-9]{1,19}")


class Work(Enum):
    """What a route does to the database."""

    READ = "read"  # statements on an autocommit connection: each is its own snapshot
    # A READ of a bounded size (a page, a few chats): on SQLite it runs in the event loop's
    # thread (mychat.loop_sqlite), on the threaded driver only when the database is busy.
    SHORT_READ = "short read"
    WRITE = "write"  # one unit of work (mychat.service's engine), events after its commit
    SEND = "send"  # a send: stored by the group commit, in a transaction shared with others
    # Reads on the driver that check out a pooled connection per statement themselves
    # (chat_service.history.engine_rows): nothing is opened up front.
    DRIVER = "driver"


@dataclass(frozen=True)
class ChatServiceState:
    """Per-app objects the handlers need beyond the shared ServiceResources."""

    broker: Broker
    send_limiter: RateLimiter
    # Per user: chats created, and people added to chats (at creation or later).
    chat_limiter: RateLimiter
    member_limiter: RateLimiter
    typing_limiter: RateLimiter


@dataclass(frozen=True)
class ChatResources:
    """What the app's lifespan opens beside the ServiceResources, and closes."""

    autocommit_engine: AsyncEngine  # single-statement reads (mychat.db.create_autocommit_engine)
    sender: Sender
    read_markers: ReadMarkers
    indexer: SearchIndexer  # search rows, written after the sends' commits
    # On SQLite, reads in the event loop's thread: the seed's history on a plain sqlite3
    # connection (chat_service.loop_reads), Work.SHORT_READ routes on an engine
    # (mychat.db.create_loop_read_engine).
    loop_reader: LoopReader | None = None
    loop_read_engine: AsyncEngine | None = None


def chat_state(request: Request) -> ChatServiceState:
    state: ChatServiceState = request.app.state.chat
    return state


def chat_resources(request: Request) -> ChatResources:
    opened: ChatResources = request.app.state.chat_res
    return opened


def invalid_field(field: str, message: str) -> ApiError:
    return ApiError(400, "validation_error", message, field=field)


def parse_id(raw: str) -> int | None:
    """A positive database id from text, or None."""
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


@dataclass
class Call:
    """One authenticated request: who calls, the parsed body, and its connection.

    A read's connection is an autocommit one; a write's is its unit of work's (`work`); a send
    and a Work.DRIVER read have neither (the sender stores it; the read checks one out).
    """

    request: Request
    user_id: int
    nickname: str  # from the verified token (nicknames never change)
    body: dict[str, Any]
    chat_id_or_none: int | None
    state: ChatServiceState
    opened: ChatResources
    work_or_none: UnitOfWork | None = None
    connection_or_none: AsyncConnection | None = None

    @property
    def work(self) -> UnitOfWork:
        assert self.work_or_none is not None, "a Work.WRITE route"
        return self.work_or_none

    @property
    def connection(self) -> AsyncConnection:
        assert self.connection_or_none is not None, "a Work.READ or Work.WRITE route"
        return self.connection_or_none

    @property
    def chat_id(self) -> int:
        assert self.chat_id_or_none is not None, "route without {chat_id}"
        return self.chat_id_or_none

    def invalid(self, field: str, message: str) -> ApiError:
        return invalid_field(field, message)

    # Body fields.

    def text_field(self, name: str) -> str:
        value = self.body.get(name)
        if value is None:
            raise invalid_field(name, f"{name.capitalize()} is required")
        if not isinstance(value, str):
            raise invalid_field(name, f"{name} must be a string")
        return value

    def optional_text_field(self, name: str) -> str | None:
        return None if self.body.get(name) is None else self.text_field(name)

    def text_list_field(self, name: str) -> list[str]:
        value = self.body.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise invalid_field(name, f"{name} must be a list of strings")
        return value

    def flag_field(self, name: str, *, default: bool) -> bool:
        value = self.body.get(name, default)
        if not isinstance(value, bool):
            raise invalid_field(name, f"{name} must be true or false")
        return value

    def int_field(self, name: str) -> int:
        return body_int(self.body, name)

    def optional_int_field(self, name: str) -> int | None:
        return None if self.body.get(name) is None else self.int_field(name)

    # Query parameters.

    def query_int(self, name: str, *, default: int | None, maximum: int = MAX_ID) -> int | None:
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return default
        if not _DIGITS.fullmatch(raw) or int(raw) > maximum:
            raise invalid_field(name, f"{name} must be an integer between 0 and {maximum}")
        return int(raw)

    def page_size(self, name: str, *, default: int, maximum: int) -> int:
        raw = self.request.query_params.get(name)
        value = default if raw is None or raw == "" else parse_id(raw)
        if value is None or value > maximum:
            raise invalid_field(name, f"{name} must be between 1 and {maximum}")
        return value

    def query_flag(self, name: str, *, default: bool) -> bool:
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("1", "true"):
            return True
        if raw.lower() in ("0", "false"):
            return False
        raise invalid_field(name, f"{name} must be 1, 0, true or false")

    def query_text(self, name: str) -> str | None:
        return self.request.query_params.get(name) or None

    def query_ids(self, name: str) -> list[int]:
        raw = self.request.query_params.get(name)
        if raw is None:
            raise invalid_field(name, f"{name} is required")
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if len(parts) > IDS_MAX:
            raise invalid_field(name, f"At most {IDS_MAX} ids")
        ids = [parse_id(part) for part in parts]
        if any(value is None for value in ids):
            raise invalid_field(name, f"{name} must be comma-separated positive integers")
        return [value for value in ids if value is not None]


def body_int(body: dict[str, Any], name: str) -> int:
    """A non-negative id-sized integer field of a JSON body, or 400 naming the field."""
    value = body.get(name)
    if value is None:
        raise invalid_field(name, f"{name} is required")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise invalid_field(name, f"{name} must be a non-negative integer")
    return value


Handler = Callable[[Call], Awaitable[Any]]


def _seed_error_response(error: ApiError) -> Response:
    """The seed's add-user error shape: {"status": "error", "message": ...} plus our code."""
    return JSONResponse(
        {"status": "error", "message": error.message, "code": error.code},
        status_code=error.status,
        headers=error.headers(),
    )


def endpoint(
    handler: Handler, work: Work, *, reads_body: bool = False, seed_errors: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette handler: authenticate, parse, run `handler` with its connection, answer JSON.

    Work.WRITE commits at the end and publishes the queued events after the commit.
    seed_errors=True answers errors after authentication in the seed's add-user shape.
    """

    async def run(request: Request) -> Response:
        claims = authenticate(request)
        try:
            content = await _run_handler(request, claims.user_id, claims.nickname)
        except ApiError as error:
            if seed_errors:
                return _seed_error_response(error)
            return JSONResponse(error.body(), status_code=error.status, headers=error.headers())
        return JSONResponse(content)

    async def _run_handler(request: Request, user_id: int, nickname: str) -> Any:
        chat_id: int | None = None
        if "chat_id" in request.path_params:
            chat_id = parse_id(str(request.path_params["chat_id"]))
            if chat_id is None:
                raise chat_not_found()
        body = await read_json_object(request) if reads_body else {}
        state, opened = chat_state(request), chat_resources(request)
        call = Call(request, user_id, nickname, body, chat_id, state, opened)
        if work is Work.WRITE:
            async with unit_of_work(resources(request).engine, state.broker) as unit:
                call.work_or_none, call.connection_or_none = unit, unit.connection
                return await handler(call)
        if work is Work.READ or work is Work.SHORT_READ:

            async def read(connection: AsyncConnection) -> Any:
                call.connection_or_none = connection
                return await handler(call)

            loop_engine = opened.loop_read_engine if work is Work.SHORT_READ else None
            return await short_read(loop_engine, opened.autocommit_engine, read)
        return await handler(call)

    return run


# Input parsing shared by a public and an internal handler of the same action.


async def send_message_from_body(call: Call, *, replies: bool = False) -> tuple[MessageView, bool]:
    """For a Work.SEND route: the sender commits and publishes. `replies`: the body may name
    `reply_to_id` (the internal API; the seed's REST send keeps its contract)."""
    text = call.text_field("text")
    client_id = call.optional_text_field("client_id")
    reply_to_id = call.optional_int_field("reply_to_id") if replies else None
    check_send_rate(call.state.send_limiter, call.user_id)
    quote = None
    if reply_to_id is not None:
        async with call.opened.autocommit_engine.connect() as connection:
            quote = await quote_for_reply(connection, call.chat_id, reply_to_id)
    sender = call.opened.sender
    return await sender.send(call.chat_id, call.user_id, call.nickname, text, client_id, quote)


async def add_member_from_body(call: Call) -> MemberView:
    nickname = call.text_field("nickname")
    check_membership_rate(call, members=1)
    return await do_add_member(call.work, call.chat_id, call.user_id, nickname)


def check_membership_rate(call: Call, *, chats: int = 0, members: int = 0) -> None:
    """429 past the caller's per-minute budget of new chats or of people added to chats, so
    one account cannot fill everyone's chat list (see README, "Security")."""
    state = call.state
    for limiter, count, what in (
        (state.chat_limiter, chats, "chats created"),
        (state.member_limiter, members, "people added to chats"),
    ):
        if count:
            retry_after = limiter.retry_after(str(call.user_id), count)
            if retry_after > 0:
                raise RateLimited(f"Too many {what}; slow down", retry_after)
