"""Scenario 1, REST: send a message and read a 50-message history page.

Ours: chat_service (`mychat:chat`) on a fresh MariaDB database, the seed's endpoints with a
Bearer token (token check, membership check, SQL, JSON). Baseline: a bare Starlette endpoint
returning the same 50 messages from memory. Both under the same uvicorn settings.
"""

from __future__ import annotations

import httpx

from bench.config import BenchConfig
from bench.loadgen import TOOL
from bench.measure import add_throughput_figures, describe, get_request, json_request, load
from bench.procs import uvicorn_server
from bench.results_model import ScenarioResult
from bench.serve import UVICORN_SETTINGS
from bench.stack import mychat_stack, seed_chat_with_history

TARGET_RATIO = 0.5
HISTORY_PAGE = 50


def run(config: BenchConfig) -> ScenarioResult:
    scenario = ScenarioResult(
        "rest",
        "REST: history page of 50 and send a message",
        method=(
            f"{TOOL}; {config.http_concurrency} connections, {config.warmup_seconds} s warm-up, "
            f"{config.duration_seconds} s measured per figure; ours = chat_service on MariaDB, "
            "baseline = bare Starlette from memory"
        ),
        settings={
            "concurrency": config.http_concurrency,
            "warmup_seconds": config.warmup_seconds,
            "duration_seconds": config.duration_seconds,
            "uvicorn": UVICORN_SETTINGS,
            "history_path": "GET /mychat/api/chat/{id}?limit=50",
            "send_path": "POST /mychat/api/chat/{id}/message",
        },
    )
    history_path = f"/mychat/api/chat/{{}}?limit={HISTORY_PAGE}"
    send_body = {"text": "hello from the benchmark"}

    print("REST baseline: bare Starlette", flush=True)
    with uvicorn_server("rest-baseline", "bare-rest") as server:
        assert server.port is not None
        base_history = load(
            config, server.port, [get_request(history_path.format(1))], expect_in_body='"text"'
        )
        print(describe("history (baseline)", base_history), flush=True)
        base_send = load(
            config,
            server.port,
            [json_request("/mychat/api/chat/1/message", send_body)],
            expect_in_body='"ok"',
        )
        print(describe("send (baseline)", base_send), flush=True)

    print("REST ours: chat_service on MariaDB", flush=True)
    with mychat_stack("rest", with_gateway=False) as stack:
        seeded = seed_chat_with_history(stack, HISTORY_PAGE)
        path = history_path.format(seeded.chat_id)
        check = httpx.get(
            stack.chat_url + path, headers={"Authorization": f"Bearer {seeded.token}"}, timeout=10
        )
        check.raise_for_status()
        assert len(check.json()) == HISTORY_PAGE, "history page must hold 50 messages"
        history = load(
            config,
            stack.chat_port,
            [get_request(path, seeded.token)],
            expect_in_body='"text"',
        )
        print(describe("history (ours)", history), flush=True)
        send = load(
            config,
            stack.chat_port,
            [
                json_request(
                    f"/mychat/api/chat/{seeded.send_chat_id}/message", send_body, seeded.token
                )
            ],
            expect_in_body='"ok"',
        )
        print(describe("send (ours)", send), flush=True)

    add_throughput_figures(scenario, "history", history, base_history, target_ratio=TARGET_RATIO)
    add_throughput_figures(scenario, "send", send, base_send, target_ratio=TARGET_RATIO)
    return scenario
