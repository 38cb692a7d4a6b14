"""Scenario 2, GraphQL: `chat { messages(last: 50) }`, `me` and `sendMessage`.

Ours: the gateway (`mychat:gateway`) in the topology, calling auth_service and chat_service
over HTTP on a fresh MariaDB database; also the embedded app (`mychat:all`, one process, the
service hop in-process). Baseline: a bare Strawberry schema answering the same documents from
memory with parser and validation caches; bare `{ hello }` is the framework's floor.
"""

from __future__ import annotations

from typing import Any

import httpx

from bench import baseline_graphql, documents
from bench.config import BenchConfig
from bench.loadgen import TOOL, HttpRequest, LoadResult
from bench.measure import Target, add_throughput_figures, compare, describe, json_request, load
from bench.procs import uvicorn_server
from bench.results_model import Figure, ScenarioResult
from bench.serve import UVICORN_SETTINGS
from bench.stack import Seeded, mychat_stack, seed_chat_list, seed_chat_with_history
from bench.web_operations import sent

TARGET_RATIO = 0.5
# History and the web app's chat list: at least as fast as bare Strawberry from memory (issue 12).
READ_TARGET_RATIO = 1.0
# The web app's chat-list query asks for 50 (CHAT_LIST_SIZE); the seeded user has 2 chats.
LIST_CHATS = 48
TARGETS: dict[str, float | None] = {
    "send": None,
    "history": READ_TARGET_RATIO,
    "chat list": READ_TARGET_RATIO,
}
GRAPHQL_PATH = "/mychat/graphql"
NO_ERRORS = '"errors"'


def _operation(document: str, variables: dict[str, Any], token: str | None) -> HttpRequest:
    return json_request(GRAPHQL_PATH, {"query": document, "variables": variables}, token)


def _chat_global_id(url: str, token: str, name: str) -> str:
    query = "query { chats(first: 100) { edges { node { id name } } } }"
    response = httpx.post(
        url, json={"query": query}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    body = response.json()
    for edge in body["data"]["chats"]["edges"]:
        if edge["node"]["name"] == name:
            return str(edge["node"]["id"])
    raise RuntimeError(f"chat {name!r} not found through GraphQL: {body}")


def _targets(port: int, seeded: Seeded | None, url: str | None) -> dict[str, Target]:
    """The documents as load targets; ours needs real chat ids, the baseline any id."""
    token = seeded.token if seeded else None
    if seeded is not None and url is not None:
        history_id = _chat_global_id(url, seeded.token, "history")
        send_id = _chat_global_id(url, seeded.token, "sends")
    else:
        history_id = send_id = "Q2hhdDox"
    plan: list[tuple[str, str, dict[str, Any], str]] = [
        ("history", documents.HISTORY, {"chatId": history_id}, '"edges"'),
        ("me", documents.ME, {}, '"login"'),
        ("send", documents.SEND, {"chatId": send_id, "text": "hello"}, "SendMessagePayload"),
        # The web app's own chat-list query, as Apollo Client sends it.
        ("chat list", sent("CHATS"), {"first": baseline_graphql.CHAT_LIST_SIZE}, '"edges"'),
    ]
    return {
        name: Target(port, [_operation(document, variables, token)], expect, NO_ERRORS)
        for name, document, variables, expect in plan
    }


def _compare_documents(
    config: BenchConfig, label: str, ours: dict[str, Target], baseline: dict[str, Target]
) -> dict[str, tuple[LoadResult, LoadResult]]:
    results = {}
    for name in ours:
        mine, base = compare(config, ours[name], baseline[name])
        print(describe(f"{name} (baseline)", base), flush=True)
        print(describe(f"{name} ({label})", mine), flush=True)
        results[name] = (mine, base)
    return results


def run(config: BenchConfig) -> ScenarioResult:
    scenario = ScenarioResult(
        "graphql",
        "GraphQL: history of 50, me, sendMessage, the web app's chat list",
        method=(
            f"{TOOL}; {config.http_concurrency} connections, {config.warmup_seconds} s warm-up, "
            f"{config.duration_seconds} s measured per figure in 2 interleaved rounds (baseline, "
            f"ours, baseline, ours); POST {GRAPHQL_PATH} JSON; "
            "ours = gateway -> auth/chat services over HTTP on MariaDB (topology) and the "
            "embedded app; baseline = bare Strawberry from memory with ParserCache and "
            "ValidationCache"
        ),
        settings={
            "concurrency": config.http_concurrency,
            "warmup_seconds": config.warmup_seconds,
            "duration_seconds": config.duration_seconds,
            "uvicorn": UVICORN_SETTINGS,
            "documents": {
                "history": documents.HISTORY,
                "me": documents.ME,
                "send": documents.SEND,
                "hello": documents.HELLO,
                "chat list": "web/src/operations.js CHATS (as Apollo Client sends it)",
            },
        },
    )

    print("GraphQL baseline: bare Strawberry", flush=True)
    with uvicorn_server("graphql-baseline", "bare-graphql") as server:
        assert server.port is not None
        hello = load(
            config,
            server.port,
            [_operation(documents.HELLO, {}, None)],
            expect_in_body="world",
            reject_in_body=NO_ERRORS,
        )
        print(describe("{ hello } (baseline floor)", hello), flush=True)
        baseline = _targets(server.port, None, None)

        print("GraphQL ours: gateway + auth + chat (topology), interleaved", flush=True)
        with mychat_stack("graphql") as stack:
            seeded = seed_chat_with_history(stack)
            seed_chat_list(stack, seeded.token, LIST_CHATS)
            ours_targets = _targets(stack.gateway_ports[0], seeded, stack.gateway_url())
            ours = _compare_documents(config, "ours", ours_targets, baseline)

        print("GraphQL ours: embedded app (one process), interleaved", flush=True)
        embedded: dict[str, tuple[LoadResult, LoadResult]] = {}
        try:
            with mychat_stack("graphql-embedded", embedded=True) as stack:
                seeded = seed_chat_with_history(stack)
                seed_chat_list(stack, seeded.token, LIST_CHATS)
                port = stack.gateway_ports[0]
                url = f"http://127.0.0.1:{port}{GRAPHQL_PATH}"
                # The queries only: the embedded send path is the topology's minus one hop.
                targets = _targets(port, seeded, url)
                del targets["send"]
                embedded = _compare_documents(config, "embedded", targets, baseline)
        except RuntimeError as error:  # the embedded app is optional for this scenario
            note = f"embedded app not measured: {str(error).splitlines()[-1]}"
            print("  " + note, flush=True)
            scenario.notes.append(note)

    scenario.add(Figure("hello rps (framework floor)", hello.rps, "req/s", note="bare Strawberry"))
    for label, results in (("", ours), (" embedded", embedded)):
        for name, (mine, base) in results.items():
            target = TARGETS.get(name, TARGET_RATIO)
            add_throughput_figures(scenario, name + label, mine, base, target_ratio=target)
    return scenario
