"""`POST /internal/read-markers`: the marks a gateway's callers made meanwhile, in one call.

A thousand viewers of a busy chat mark it read 500 times a second; one request each cost
chat_service an HTTP request and an access statement per mark. A gateway sends the marks that
arrive while its previous call is out together (gateway/read_marks.py). Each mark carries its
reader's token, verified here as every call's is, and gets the answer its own call would have
had, in order: the marker and the chat, or that call's error with its status.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from chat_service.access import chat_not_found
from chat_service.endpoints import body_int, chat_resources, invalid_field
from chat_service.read_markers import MarkAsked, Marked
from mychat.bounds import MAX_DATABASE_ID
from mychat.http import ApiError, JSONResponse, read_json_object
from mychat.service import resources
from mychat.tokens import InvalidToken, TokenCodec

# A mark is its token (~300 bytes) and two ids: a full call stays well under the body limit.
MARKS_PER_CALL_MAX = 100
MAX_ORIGIN = 64  # a gateway connection's name (gateway.context.Context.origin)


def _asked(entry: object, tokens: TokenCodec) -> MarkAsked:
    """One mark of the body, or the ApiError its own call would have met."""
    if not isinstance(entry, dict):
        raise invalid_field("marks", "Each mark must be an object")
    token = entry.get("token")
    if not isinstance(token, str):
        raise ApiError(401, "unauthenticated", "Unauthorized")
    try:
        claims = tokens.verify(token)
    except InvalidToken as error:
        raise ApiError(401, "unauthenticated", "Unauthorized") from error
    chat_id = entry.get("chat_id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise invalid_field("chat_id", "chat_id must be a positive integer")
    if not 0 < chat_id <= MAX_DATABASE_ID:
        raise chat_not_found()  # as an unknown chat in a path
    origin = entry.get("origin")
    if origin is not None and not (isinstance(origin, str) and 0 < len(origin) <= MAX_ORIGIN):
        raise invalid_field("origin", f"origin must be a string of 1 to {MAX_ORIGIN} characters")
    return MarkAsked(chat_id, claims.user_id, body_int(entry, "message_id"), origin)


def _error(error: ApiError) -> dict[str, Any]:
    return {"status": error.status, **error.body()}


def _answer(asked: MarkAsked, marked: Marked | ApiError) -> dict[str, Any]:
    if isinstance(marked, ApiError):
        return _error(marked)
    marker, chat = marked
    return {"chat_id": asked.chat_id, "last_read_message_id": marker, "chat": chat.to_json()}


async def read_markers(request: Request) -> Response:
    body = await read_json_object(request)
    marks = body.get("marks")
    if not isinstance(marks, list) or not 1 <= len(marks) <= MARKS_PER_CALL_MAX:
        raise invalid_field("marks", f"marks must be a list of 1 to {MARKS_PER_CALL_MAX} marks")
    tokens = resources(request).tokens
    answers: list[dict[str, Any]] = []
    valid: list[tuple[int, MarkAsked]] = []  # (place in the answers, the mark)
    for entry in marks:
        try:
            valid.append((len(answers), _asked(entry, tokens)))
            answers.append({})
        except ApiError as error:
            answers.append(_error(error))
    if valid:
        opened = chat_resources(request)
        async with opened.autocommit_engine.connect() as connection:
            marked = await opened.read_markers.mark_many(connection, [a for _, a in valid])
        for (place, asked), result in zip(valid, marked, strict=True):
            answers[place] = _answer(asked, result)
    return JSONResponse({"results": answers})
