"""CPU per service call of the gateway's HTTP client: httpx (before) against aiohttp (now).

`python -m bench.client_cost [--requests 3000] [--concurrency 16]` serves the bare REST
baseline's 50-message page under uvicorn in a child process and calls it from this process as
the gateway calls chat_service: keep-alive pool, 16 calls in flight, body parsed with orjson.
It prints this process's CPU time per request for each client (the server's is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import orjson
import uvloop

from bench.procs import HOST, uvicorn_server

WARMUP = 200
HEADERS = {"authorization": "Bearer token"}
PATH = "/mychat/api/chat/1"  # the bare REST baseline's 50-message page
PARAMS = {"limit": 50}


async def _measure(call: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> float:
    """CPU microseconds per request of this process."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one() for _ in range(WARMUP)))
    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(requests)))
    return (time.process_time() - started) / requests * 1e6


async def _httpx(url: str, requests: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:

        async def call() -> None:
            response = await client.get(PATH, params=PARAMS, headers=HEADERS)
            orjson.loads(response.content)

        return await _measure(call, requests, concurrency)


async def _aiohttp(url: str, requests: int, concurrency: int) -> float:
    connector = aiohttp.TCPConnector(limit=100, keepalive_timeout=10)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call() -> None:
            async with session.get(url + PATH, params=PARAMS, headers=HEADERS) as response:
                orjson.loads(await response.read())

        return await _measure(call, requests, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with uvicorn_server("client-cost-server", "bare-rest") as server:
        url = f"http://{HOST}:{server.port}"
        for name, client in (("httpx", _httpx), ("aiohttp", _aiohttp)):
            cpu = uvloop.run(client(url, args.requests, args.concurrency))
            print(f"{name:8} {cpu:7.0f} us CPU per request ({args.concurrency} in flight)")


if __name__ == "__main__":
    main()
