"""Ports on 127.0.0.1: a free one, whether one is open, and an ASGI app served on one."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on now (the OS picks it; a test binds it soon after)."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = LOCALHOST) -> bool:
    """Whether something accepts connections on host:port right now."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


async def wait_for_port(port: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await asyncio.to_thread(port_open, port):
            await asyncio.sleep(0.02)


@asynccontextmanager
async def serving(app: ASGIApp, port: int | None = None, **config: Any) -> AsyncIterator[str]:
    """The app on a real socket (uvicorn in this event loop, on `port` or a free one); yields
    its base URL. `config` goes to uvicorn.Config (lifespan, ws_max_size, ...)."""
    port = port or free_port()
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host=LOCALHOST, port=port, **config))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://{LOCALHOST}:{port}"
    finally:
        server.should_exit = True
        await task
