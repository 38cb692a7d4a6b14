"""Scenario `embedded`: what most people run, `mychat serve` (one process, SQLite, memory broker).

Ours: `python -m assembly.cli serve all` on a fresh data folder (no DATABASE_URL, no REDIS_URL:
SQLite and the in-process broker), with its own uvicorn settings, seeded through its REST API
(a chat of 50 messages and 50 chats in all). Measured: REST history (the seed's GET
/mychat/api/chat/{id}?limit=50) against bare Starlette serving the same 50 messages from memory,
and GraphQL history and the web app's own chat-list query (CHATS, as Apollo Client sends it)
against bare Strawberry answering the same documents from memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import baseline_graphql, documents
from bench.config import BenchConfig
from bench.graphql import GRAPHQL_PATH, LIST_CHATS, NO_ERRORS, READ_TARGET_RATIO
from bench.loadgen import TOOL
from bench.measure import (
    Target,
    add_throughput_figures,
    compare,
    describe,
    get_request,
    json_request,
)
from bench.procs import HOST, Proc, free_port, python_module, uvicorn_server
from bench.results_model import ScenarioResult
from bench.stack import Seeded, Stack, seed_chat_list, seed_chat_with_history, service_env
from bench.web_operations import sent

REST_TARGET_RATIO = 0.5  # as the REST scenario's
HISTORY_PAGE = 50
BARE_HISTORY_PATH = f"/mychat/api/chat/1?limit={HISTORY_PAGE}"


def _serve(data_dir: Path) -> Proc:
    env = service_env("", "", data_dir)
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name)  # the embedded defaults: SQLite in the data folder, memory broker
    port = free_port()
    argv = python_module("assembly.cli", "serve", "all", "--host", HOST, "--port", str(port))
    argv += ["--data-dir", str(data_dir)]
    return Proc("embedded-serve", argv, env=env, port=port)


@dataclass
class Servers:
    ours: Proc
    bare_rest: Proc
    bare_graphql: Proc
    seeded: Seeded

    @staticmethod
    def _port(proc: Proc) -> int:
        assert proc.port is not None
        return proc.port

    @property
    def port(self) -> int:
        return self._port(self.ours)

    @property
    def rest_port(self) -> int:
        return self._port(self.bare_rest)

    @property
    def graphql_port(self) -> int:
        return self._port(self.bare_graphql)


@contextmanager
def seeded_servers(label: str) -> Iterator[Servers]:
    """`mychat serve all` on a fresh data folder, seeded (a chat of HISTORY_PAGE messages, and
    LIST_CHATS chats more), beside bare Starlette and bare Strawberry."""
    with (
        tempfile.TemporaryDirectory(prefix=f"mychat-{label}-") as folder,
        _serve(Path(folder)) as server,
        uvicorn_server(f"{label}-bare-rest", "bare-rest") as bare_rest,
        uvicorn_server(f"{label}-bare-graphql", "bare-graphql") as bare_graphql,
    ):
        assert server.port is not None
        stack = Stack("", "", server.port, server.port, [server.port])
        seeded = seed_chat_with_history(stack, HISTORY_PAGE)
        seed_chat_list(stack, seeded.token, LIST_CHATS)
        yield Servers(server, bare_rest, bare_graphql, seeded)


def history_chat_id(port: int, token: str) -> str:
    """The GraphQL id of the seeded chat of history."""
    query = "query { chats(first: 100) { edges { node { id name } } } }"
    body = httpx.post(
        f"http://{HOST}:{port}{GRAPHQL_PATH}",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    return next(
        str(edge["node"]["id"])
        for edge in body["data"]["chats"]["edges"]
        if edge["node"]["name"] == "history"
    )


def graphql_target(document: str, variables: dict[str, object], token: str | None) -> Target:
    request = json_request(GRAPHQL_PATH, {"query": document, "variables": variables}, token)
    return Target(0, [request], '"edges"', NO_ERRORS)


def run(config: BenchConfig) -> ScenarioResult:
    scenario = ScenarioResult(
        "embedded",
        "Embedded `mychat serve` (one process, SQLite): REST and GraphQL reads",
        method=(
            f"{TOOL}; {config.http_concurrency} connections, {config.warmup_seconds} s warm-up, "
            f"{config.duration_seconds} s measured per figure in 2 interleaved rounds; ours = "
            "`mychat serve all` (python -m assembly.cli) on a fresh data folder: SQLite, memory "
            "broker, its own uvicorn settings; baselines = bare Starlette (REST) and bare "
            "Strawberry with parser and validation caches (GraphQL), from memory, under "
            "bench.serve's uvicorn settings"
        ),
        settings={
            "concurrency": config.http_concurrency,
            "history_path": "GET /mychat/api/chat/{id}?limit=50",
            "graphql_documents": {
                "history": documents.HISTORY,
                "chat list": "web/src/operations.js CHATS (as Apollo Client sends it)",
            },
            "chats_in_list": LIST_CHATS + 2,
        },
    )
    with seeded_servers("embedded") as servers:
        port, seeded = servers.port, servers.seeded
        history_path = f"/mychat/api/chat/{seeded.chat_id}?limit={HISTORY_PAGE}"
        print("Embedded: REST history vs bare Starlette, interleaved", flush=True)
        rest, base_rest = compare(
            config,
            Target(port, [get_request(history_path, seeded.token)], '"text"'),
            Target(
                servers.rest_port,
                [get_request(f"/mychat/api/chat/1?limit={HISTORY_PAGE}")],
                '"text"',
            ),
        )
        print(describe("REST history (baseline)", base_rest), flush=True)
        print(describe("REST history (embedded)", rest), flush=True)
        add_throughput_figures(
            scenario, "REST history", rest, base_rest, target_ratio=REST_TARGET_RATIO
        )
        chat_gid = history_chat_id(port, seeded.token)
        plan: list[tuple[str, str, dict[str, object], dict[str, object]]] = [
            ("GraphQL history", documents.HISTORY, {"chatId": chat_gid}, {"chatId": "Q2hhdDox"}),
            (
                "chat list",
                sent("CHATS"),
                {"first": baseline_graphql.CHAT_LIST_SIZE},
                {"first": baseline_graphql.CHAT_LIST_SIZE},
            ),
        ]
        for name, document, ours_variables, base_variables in plan:
            print(f"Embedded: {name} vs bare Strawberry, interleaved", flush=True)
            ours_target = graphql_target(document, ours_variables, seeded.token)
            ours_target.port = port
            base_target = graphql_target(document, base_variables, None)
            base_target.port = servers.graphql_port
            mine, base = compare(config, ours_target, base_target)
            print(describe(f"{name} (baseline)", base), flush=True)
            print(describe(f"{name} (embedded)", mine), flush=True)
            add_throughput_figures(scenario, name, mine, base, target_ratio=READ_TARGET_RATIO)
    return scenario
