"""Scenario 1, REST: send a message and read a 50-message history page.

Ours: chat_service (`mychat:chat`) on a fresh MariaDB database, the seed's endpoints with a
Bearer token (token check, membership check, SQL, JSON). Baseline: a bare Starlette endpoint
returning the same 50 messages from memory. Both under the same uvicorn settings.
"""

from __future__ import annotations

import httpx

from bench.config import BenchConfig
from bench.loadgen import TOOL
from bench.measure import (
    Target,
    add_throughput_figures,
    compare,
    describe,
    get_request,
    json_request,
)
from bench.procs import uvicorn_server
from bench.results_model import ScenarioResult
from bench.serve import UVICORN_SETTINGS
from bench.stack import mychat_stack, seed_chat_with_history

TARGET_RATIO = 0.5
HISTORY_PAGE = 50
# Sends to one chat queue on that chat's row lock; spread over this many chats they do not.
SPREAD_CHATS = 32


def _create_chats(chat_url: str, token: str, count: int) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=chat_url, headers=headers, timeout=30) as client:
        created = [
            client.post("/mychat/api/chat/", json={"name": f"spread {i}"}) for i in range(count)
        ]
    return [int(response.raise_for_status().json()["chat_id"]) for response in created]


def run(config: BenchConfig) -> ScenarioResult:
    scenario = ScenarioResult(
        "rest",
        "REST: history page of 50 and send a message",
        method=(
            f"{TOOL}; {config.http_concurrency} connections, {config.warmup_seconds} s warm-up, "
            f"{config.duration_seconds} s measured per figure in 2 interleaved rounds (baseline, "
            "ours, baseline, ours); ours = chat_service on MariaDB, "
            "baseline = bare Starlette from memory"
        ),
        settings={
            "concurrency": config.http_concurrency,
            "warmup_seconds": config.warmup_seconds,
            "duration_seconds": config.duration_seconds,
            "uvicorn": UVICORN_SETTINGS,
            "history_path": "GET /mychat/api/chat/{id}?limit=50",
            "send_path": "POST /mychat/api/chat/{id}/message",
            "send_spread_chats": SPREAD_CHATS,
        },
    )
    history_path = "/mychat/api/chat/{}?limit=" + str(HISTORY_PAGE)
    send_body = {"text": "hello from the benchmark"}

    print("REST: bare Starlette baseline and chat_service on MariaDB, interleaved", flush=True)
    with (
        uvicorn_server("rest-baseline", "bare-rest") as server,
        mychat_stack("rest", with_gateway=False) as stack,
    ):
        assert server.port is not None
        seeded = seed_chat_with_history(stack, HISTORY_PAGE)
        path = history_path.format(seeded.chat_id)
        check = httpx.get(
            stack.chat_url + path, headers={"Authorization": f"Bearer {seeded.token}"}, timeout=10
        )
        check.raise_for_status()
        assert len(check.json()) == HISTORY_PAGE, "history page must hold 50 messages"
        history, base_history = compare(
            config,
            Target(stack.chat_port, [get_request(path, seeded.token)], '"text"'),
            Target(server.port, [get_request(history_path.format(1))], '"text"'),
        )
        print(describe("history (baseline)", base_history), flush=True)
        print(describe("history (ours)", history), flush=True)
        send_path = f"/mychat/api/chat/{seeded.send_chat_id}/message"
        send, base_send = compare(
            config,
            Target(stack.chat_port, [json_request(send_path, send_body, seeded.token)], '"ok"'),
            Target(server.port, [json_request("/mychat/api/chat/1/message", send_body)], '"ok"'),
        )
        print(describe("send (baseline)", base_send), flush=True)
        print(describe("send (ours)", send), flush=True)
        spread_ids = _create_chats(stack.chat_url, seeded.token, SPREAD_CHATS)
        spread, base_spread = compare(
            config,
            Target(
                stack.chat_port,
                [
                    json_request(f"/mychat/api/chat/{chat_id}/message", send_body, seeded.token)
                    for chat_id in spread_ids
                ],
                '"ok"',
            ),
            Target(server.port, [json_request("/mychat/api/chat/1/message", send_body)], '"ok"'),
        )
        print(describe(f"send, {SPREAD_CHATS} chats (baseline)", base_spread), flush=True)
        print(describe(f"send, {SPREAD_CHATS} chats (ours)", spread), flush=True)

    add_throughput_figures(scenario, "history", history, base_history, target_ratio=TARGET_RATIO)
    add_throughput_figures(scenario, "send", send, base_send, target_ratio=TARGET_RATIO)
    # No target: shows how much of the gap above is one chat's row lock.
    add_throughput_figures(scenario, f"send to {SPREAD_CHATS} chats", spread, base_spread)
    return scenario
