"""Issue 13's two attacks together against `mychat serve` (MariaDB), and what another user sees.

    python -m bench.abuse [--requests 200]

One process (`mychat:all`) with the default per-user limits. A victim reads a 50-message page
of their chat over and over, first on a quiet server, then while an attacker (an ordinary
account) runs both attacks at once: 100 WebSockets x 20 `chatEvents` subscriptions selecting
`chat { name unreadCount members { user { nickname } } lastMessage { text } }` with aliased
sends into their own chat, and the 2,900-call query (`chats(first: 100)` x 29 aliased
`messages(last: 200)`) from 8 concurrent loops. Prints the victim's p50/p99 quiet and under
attack, how the attacker was refused, 5xx answers and database pool timeouts in the log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.procs import HOST, uvicorn_server
from bench.stack import fresh_database, private_redis, service_env

PASSWORD = "correct horse battery staple"
REGISTER = """mutation($l: String!, $p: String!, $n: String!) {
  register(login: $l, password: $p, nickname: $n) { ... on AuthPayload { token } }
}"""
CREATE = """mutation($n: String!) {
  createChat(name: $n) { ... on CreateChatPayload { chat { id } } }
}"""
SEND = """mutation($c: ID!) {
  a: sendMessage(chatId: $c, text: "x") { __typename }
  b: sendMessage(chatId: $c, text: "y") { __typename }
  c: sendMessage(chatId: $c, text: "z") { __typename }
}"""
HISTORY = "query($c: ID!) { chat(id: $c) { messages(last: 50) { edges { node { text } } } } }"
HEAVY = """subscription { chatEvents { __typename ... on MessageAdded {
  chat { name unreadCount members { user { nickname } } lastMessage { text } } } } }"""
PAGES = " ".join(f"m{n}: messages(last: 200) {{ edges {{ node {{ text }} }} }}" for n in range(29))
COSTLY = "{ chats(first: 100) { edges { node { " + PAGES + " } } } }"
# The bench's defaults lift the per-user limits; this scenario measures them.
LIMITS = (
    "MYCHAT_SEND_RATE_PER_MINUTE",
    "MYCHAT_CHAT_CREATE_RATE_PER_MINUTE",
    "MYCHAT_MEMBER_ADD_RATE_PER_MINUTE",
    "MYCHAT_GRAPHQL_COST_PER_MINUTE",
    "MYCHAT_SERVICE_CALLS_PER_USER",
)


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await client.post(
        "/mychat/graphql", json={"query": query, "variables": variables}, headers=headers
    )


async def register(client: httpx.AsyncClient, name: str) -> str:
    answer = await graphql(client, REGISTER, {"l": name, "p": PASSWORD, "n": name})
    token: str = answer.json()["data"]["register"]["token"]
    return token


async def victim_latencies(
    client: httpx.AsyncClient, token: str, chat_id: str, count: int, statuses: Counter[int]
) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        answer = await graphql(client, HISTORY, {"c": chat_id}, token)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[answer.status_code] += 1
    return latencies


async def subscriber(url: str, token: str, refused: Counter[str]) -> None:
    try:
        protocol = websockets.Subprotocol("graphql-transport-ws")
        async with websockets.connect(url, subprotocols=[protocol]) as ws:
            init = {"authorization": f"Bearer {token}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                refused["socket"] += 1
                return
            for n in range(20):
                message = {"id": str(n), "type": "subscribe", "payload": {"query": HEAVY}}
                await ws.send(json.dumps(message))
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "error":
                    refused["subscription"] += 1
                elif message.get("type") == "next":
                    refused["delivered"] += 1
    except websockets.ConnectionClosed as closed:
        refused[f"socket closed {closed.rcvd.code if closed.rcvd else '-'}"] += 1


async def costly_loop(
    client: httpx.AsyncClient, token: str, stop: asyncio.Event, seen: Counter[str]
) -> None:
    while not stop.is_set():
        answer = await graphql(client, COSTLY, {}, token)
        seen[str(answer.status_code)] += 1
        for error in answer.json().get("errors", []):
            seen[str(error.get("extensions", {}).get("code"))] += 1


async def send_loop(
    client: httpx.AsyncClient, token: str, chat_id: str, stop: asyncio.Event, seen: Counter[str]
) -> None:
    while not stop.is_set():
        answer = await graphql(client, SEND, {"c": chat_id}, token)
        seen[f"send {answer.status_code}"] += 1
        await asyncio.sleep(0.2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(port: int, requests: int, cost_loops: int, sockets: int) -> dict[str, Any]:
    base = f"http://{HOST}:{port}"
    ws_url = f"ws://{HOST}:{port}/mychat/graphql"
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        victim = await register(client, "victim")
        attacker = await register(client, "mallory")
        victim_chat = (await graphql(client, CREATE, {"n": "Mine"}, victim)).json()
        victim_chat_id = victim_chat["data"]["createChat"]["chat"]["id"]
        for _ in range(17):
            await graphql(client, SEND, {"c": victim_chat_id}, victim)
        own = (await graphql(client, CREATE, {"n": "Own"}, attacker)).json()
        own_id = own["data"]["createChat"]["chat"]["id"]
        statuses: Counter[int] = Counter()
        await victim_latencies(client, victim, victim_chat_id, 20, statuses)  # warm up
        quiet = await victim_latencies(client, victim, victim_chat_id, requests, statuses)
        stop = asyncio.Event()
        seen: Counter[str] = Counter()
        subscribers = [
            asyncio.create_task(subscriber(ws_url, attacker, seen)) for _ in range(sockets)
        ]
        await asyncio.sleep(2)
        loops = [
            asyncio.create_task(costly_loop(client, attacker, stop, seen))
            for _ in range(cost_loops)
        ]
        loops.append(asyncio.create_task(send_loop(client, attacker, own_id, stop, seen)))
        attacked = await victim_latencies(client, victim, victim_chat_id, requests, statuses)
        stop.set()
        await asyncio.gather(*loops)
        for task in subscribers:
            task.cancel()
        await asyncio.gather(*subscribers, return_exceptions=True)
    return {
        "quiet_p50_ms": round(statistics.median(quiet), 1),
        "quiet_p99_ms": round(percentile(quiet, 0.99), 1),
        "attack_p50_ms": round(statistics.median(attacked), 1),
        "attack_p99_ms": round(percentile(attacked, 0.99), 1),
        "p99_ratio": round(percentile(attacked, 0.99) / percentile(quiet, 0.99), 2),
        "victim_statuses": dict(statuses),
        "attacker": dict(seen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--cost-loops", type=int, default=8, help="concurrent costly loops")
    parser.add_argument("--sockets", type=int, default=100, help="attacker's WebSockets")
    args = parser.parse_args()
    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database_url = stack.enter_context(fresh_database())
        redis_url = stack.enter_context(private_redis())
        env = service_env(database_url, redis_url, data_dir)
        for name in LIMITS:
            env.pop(name)
        server = stack.enter_context(uvicorn_server("abuse-all", "mychat:all", env=env))
        assert server.port is not None
        result = asyncio.run(run(server.port, args.requests, args.cost_loops, args.sockets))
        log = server.log_path.read_text(errors="replace")
        result["pool_timeouts_logged"] = log.count("QueuePool limit") + log.count("pool timeout")
        result["server_errors_logged"] = log.count("unexpected error")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
