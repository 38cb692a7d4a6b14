"""HTTP plumbing shared by the services: JSON responses, typed API errors, bounded bodies, logs."""

from __future__ import annotations

import logging
import math
import random
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mychat.logs import REQUEST_ID

MAX_BODY_BYTES = 64 * 1024

access_log = logging.getLogger("mychat.access")
error_log = logging.getLogger("mychat.error")


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """An expected failure: a 4xx with a stable machine-readable code and a human message."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.field is not None:
            body["field"] = self.field
        return body

    def headers(self) -> dict[str, str]:
        return {}


class RateLimited(ApiError):
    """429 with the whole seconds to wait, in the body and the Retry-After header."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(429, "rate_limited", message)
        self.retry_after = max(1, math.ceil(retry_after))

    def body(self) -> dict[str, Any]:
        return {**super().body(), "retry_after": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx ApiError saying what is wrong with it."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"Request body over {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise ApiError(400, "invalid_json", "Request body must be a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "invalid_json", "Request body is not valid JSON") from error
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "Request body must be a JSON object")
    return data


async def api_error_handler(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


async def http_error_handler(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return JSONResponse(
        {"error": error.detail, "code": code}, status_code=error.status_code, headers=error.headers
    )


async def unexpected_error_handler(request: Request, error: Exception) -> Response:
    request_id = request.scope.get("mychat.request_id", "-")
    error_log.exception("unexpected error (request %s)", request_id, exc_info=error)
    return JSONResponse(
        {"error": "Internal server error", "code": "internal", "request_id": request_id},
        status_code=500,
        # Starlette answers 500s outside the user middleware, so set the id header here too.
        headers={"x-request-id": request_id},
    )


EXCEPTION_HANDLERS = {
    ApiError: api_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}


class BodyLimitMiddleware:
    """413 for bodies over the limit, by Content-Length or while streaming, before any handler."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ApiError(413, "payload_too_large", "Request body too large")
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, send: Send) -> None:
        body = orjson.dumps(
            {"error": f"Request body over {self.max_bytes} bytes", "code": "payload_too_large"}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class AccessLogMiddleware:
    """One log line per request with a request id; never logs bodies, headers or tokens.

    The path is logged with control characters escaped (an ESC sequence, CR or NUL in a URL
    must not reach a terminal or forge a log line). Redirects to the request's own host (the
    router's trailing-slash redirect) leave with a relative Location, so a forged Host header
    is never reflected into one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            # A WebSocket has no response start to tag: its frames need no wrapper, and this
            # frame, suspended for the socket's life, holds no closure.
            with AccessLogged(scope):
                await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        with AccessLogged(scope) as logged:
            request_id = logged.request_id

            async def logged_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = logged.status = message["status"]
                    headers = list(message.get("headers", []))
                    if 300 <= status < 400:
                        headers = _relative_redirect(scope, headers)
                    message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
                await send(message)

            await self.app(scope, receive, logged_send)


class AccessLogged:
    """Around one request or WebSocket: its request id (in the scope and the log context) and,
    when it ends, its access-log line (AccessLogMiddleware). One slotted object, as the
    gateway's WebSocket path holds it for the socket's life (gateway/asgi.py)."""

    __slots__ = ("_context_token", "_started", "request_id", "scope", "status")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.request_id = _incoming_request_id(scope) or new_request_id()
        scope["mychat.request_id"] = self.request_id
        self.status = 0  # the response's, once it starts (HTTP)

    def __enter__(self) -> AccessLogged:
        self._context_token = REQUEST_ID.set(self.request_id)
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        scope = self.scope
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s %s %.1fms rid=%s",
                scope.get("client", ("-",))[0],
                scope.get("method", "WS"),
                printable(scope["path"]),
                self.status or "-",
                (time.perf_counter() - self._started) * 1000,
                self.request_id,
            )
        REQUEST_ID.reset(self._context_token)


def new_request_id() -> str:
    """16 hex digits to tie log lines together (not a secret). uuid4 reads os.urandom, a
    syscall that lets other threads (aiosqlite's) take the GIL: 12% of py-spy's samples of
    embedded REST history were there (bench/PROFILE.md)."""
    return f"{random.getrandbits(64):016x}"  # an id, not a secret


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if (
                0 < len(text) <= 64
                and text.replace("-", "").isascii()
                and text.replace("-", "").isalnum()
            ):
                return text
    return None


def printable(text: str) -> str:
    """The text with control and other non-printable characters as escapes (\\x1b, \\r)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _relative_redirect(
    scope: Scope, headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """Location headers pointing at the request's own host, made relative (path and query)."""
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    rewritten = []
    for name, value in headers:
        if name.lower() == b"location" and host is not None:
            target = urlsplit(value.decode("latin-1"))
            if target.scheme and target.netloc.encode("latin-1") == host:
                relative = target.path or "/"
                if target.query:
                    relative += "?" + target.query
                value = relative.encode("latin-1")
        rewritten.append((name, value))
    return rewritten
