"""Bare Starlette baseline for the REST scenario: the same shapes, from memory, no checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HISTORY_SIZE = 50


def sample_messages(chat_id: int, count: int = HISTORY_SIZE) -> list[dict[str, Any]]:
    """Messages shaped like the seed's GET /mychat/api/chat/{id} answer, oldest first."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "id": i,
            "chat_id": chat_id,
            "sender_id": 1,
            "sender_nickname": "bench",
            "text": f"benchmark message number {i}",
            "date_sent": (start + timedelta(seconds=i)).isoformat(),
        }
        for i in range(1, count + 1)
    ]


def create_app() -> Starlette:
    messages: dict[int, list[dict[str, Any]]] = {}

    async def history(request: Request) -> Response:
        chat_id = int(request.path_params["chat_id"])
        page = messages.setdefault(chat_id, sample_messages(chat_id))
        return JSONResponse(page[-HISTORY_SIZE:])

    async def send(request: Request) -> Response:
        chat_id = int(request.path_params["chat_id"])
        body = await request.json()
        page = messages.setdefault(chat_id, sample_messages(chat_id))
        message = {
            "id": page[-1]["id"] + 1,
            "chat_id": chat_id,
            "sender_id": 1,
            "sender_nickname": "bench",
            "text": body["text"],
            "date_sent": datetime.now(UTC).isoformat(),
            "client_id": None,
        }
        page.append(message)
        del page[:-HISTORY_SIZE]  # keep memory flat over a long run
        return JSONResponse({"status": "ok", "message": message})

    return Starlette(
        routes=[
            Route("/mychat/api/chat/{chat_id:int}", history, methods=["GET"]),
            Route("/mychat/api/chat/{chat_id:int}/message", send, methods=["POST"]),
        ]
    )
