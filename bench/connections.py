"""Scenario 4, connections: N idle authenticated subscriptions on one gateway process.

Ours: one gateway (with auth, chat, MariaDB, a private Redis); each connection is a different
chat member, authenticated in connection_init, holding either the web app's own `chatEvents`
document (as Apollo Client sends it, read from web/src/operations.js; the members in chats of
`GROUP` so that each viewer's state holds a real chat and presence announcements reach a
chat's worth of people, not all N) or `messageAdded(chatId)` (all in one chat). Baseline: one
bare `websockets` server holding N subscribed connections. Memory per connection is the
server process's RSS growth divided by N; idle CPU is its CPU time over a quiet window.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from bench.config import BenchConfig
from bench.procs import HOST, Proc, free_port, python_module
from bench.results_model import Figure, ScenarioResult
from bench.stack import Stack, add_members_with_tokens, mychat_stack, seed_chat_with_history
from bench.web_operations import sent
from bench.wsclients import OPEN_AT_ONCE, ClientGroup, ClientSpec

KIB_TARGET = 50.0
CHAT_EVENTS_KIB_TARGET = 30.0
# chatEvents viewers are members of chats of this many people.
GROUP = 50
OPEN_BUDGET_SECONDS = 150.0
OPEN_SECONDS_PER_SUBSCRIBER = 0.06
READY_TIMEOUT = 400.0
SETTLE_SECONDS = 2.0
# Quiet = under 5% of a core over a second; waited for at most this long.
QUIET_CPU_SECONDS = 0.05
QUIET_TIMEOUT = 30.0


@dataclass
class IdleRun:
    requested: int
    connected: int
    rss_before: int
    rss_after: int
    cpu_seconds: float
    window_seconds: float
    client_errors: int
    first_error: str | None
    connect_seconds: float
    failed: int = 0

    @property
    def kib_per_connection(self) -> float:
        return (self.rss_after - self.rss_before) / max(1, self.connected) / 1024

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu_seconds / self.window_seconds


def _specs(
    config: BenchConfig,
    mode: str,
    url: str,
    tokens: list[str],
    chat_id: str,
    document: str | None = None,
) -> list[ClientSpec]:
    count = config.idle_connections
    processes = max(1, config.subscriber_processes)
    specs = []
    for i in range(processes):
        size = count // processes + (1 if i < count % processes else 0)
        part = tokens[i::processes] or [""]
        spec = ClientSpec(mode, [url], part, chat_id, size, grace_seconds=0.0)
        if document is not None:  # chatEvents from now, as the web app with no message yet
            spec.document, spec.variables = document, {"after": None}
        specs.append(spec)
    return specs


@contextmanager
def _group(specs: list[ClientSpec]) -> Iterator[ClientGroup]:
    group = ClientGroup(specs)
    try:
        yield group
    finally:
        group.kill()


def _wait_until_quiet(server: Proc) -> None:
    """Let the server finish work still queued by the connection storm before the idle window."""
    deadline = time.monotonic() + QUIET_TIMEOUT
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        time.sleep(1.0)
        if server.cpu_seconds() - before < QUIET_CPU_SECONDS:
            return


def _hold(config: BenchConfig, server: Proc, specs: list[ClientSpec]) -> IdleRun:
    time.sleep(1.0)
    rss_before = server.rss_bytes()
    with _group(specs) as group:
        opening = time.monotonic()
        budget = max(spec.open_budget_seconds for spec in specs)
        connected = group.start(max(READY_TIMEOUT, budget + 60))
        connect_seconds = time.monotonic() - opening
        time.sleep(SETTLE_SECONDS)
        _wait_until_quiet(server)
        rss_after = server.rss_bytes()
        cpu_start = server.cpu_seconds()
        started = time.monotonic()
        time.sleep(config.idle_window_seconds)
        cpu = server.cpu_seconds() - cpu_start
        window = time.monotonic() - started
        results = group.stop()
    errors = sum(r["error_count"] for r in results)
    failed = sum(sum(r["ended"]) for r in results) + config.idle_connections - connected
    first = next((r["errors"][0] for r in results if r["errors"]), None)
    return IdleRun(
        config.idle_connections,
        connected,
        rss_before,
        rss_after,
        cpu,
        window,
        errors,
        first,
        connect_seconds,
        failed,
    )


def chat_events_viewers(stack: Stack, count: int) -> list[str]:
    """Tokens of `count` new users, members of new chats of GROUP people each."""
    seeded = seed_chat_with_history(stack, messages=0)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    tokens: list[str] = []
    with httpx.Client(base_url=stack.chat_url, headers=headers, timeout=30) as client:
        for group in range(0, count, GROUP):
            created = client.post("/mychat/api/chat/", json={"name": f"idle {group}"})
            chat_id = int(created.raise_for_status().json()["chat_id"])
            tokens += add_members_with_tokens(stack, chat_id, min(GROUP, count - group))
    return tokens


def run_chat_events(config: BenchConfig) -> IdleRun:
    """N viewers (chats of GROUP members) holding the web app's chatEvents document."""
    count = config.idle_connections
    with mychat_stack("connections-events") as stack:
        tokens = chat_events_viewers(stack, count)
        url = f"ws://{HOST}:{stack.gateway_ports[0]}/mychat/graphql"
        specs = _specs(config, "graphql", url, tokens, "", sent("CHAT_EVENTS"))
        for spec in specs:  # slower to open than messageAdded: give them the time
            spec.open_budget_seconds = OPEN_BUDGET_SECONDS + count * OPEN_SECONDS_PER_SUBSCRIBER
        return _hold(config, stack.procs["gateway0"], specs)


def run_ours(config: BenchConfig) -> IdleRun:
    with mychat_stack("connections") as stack:
        seeded = seed_chat_with_history(stack, messages=0)
        headers = {"Authorization": f"Bearer {seeded.token}"}
        listing = httpx.post(
            stack.gateway_url(),
            json={"query": "{ chats(first: 5) { edges { node { id name } } } }"},
            headers=headers,
            timeout=30,
        ).json()
        chat_gid = next(
            e["node"]["id"]
            for e in listing["data"]["chats"]["edges"]
            if e["node"]["name"] == "history"
        )
        tokens = add_members_with_tokens(stack, seeded.chat_id, config.idle_connections)
        url = f"ws://{HOST}:{stack.gateway_ports[0]}/mychat/graphql"
        return _hold(
            config, stack.procs["gateway0"], _specs(config, "graphql", url, tokens, chat_gid)
        )


def run_baseline(config: BenchConfig) -> IdleRun:
    port = free_port()
    with Proc(
        "connections-baseline", python_module("bench.baseline_ws", "--port", str(port)), port=port
    ) as server:
        return _hold(config, server, _specs(config, "bare", f"ws://{HOST}:{port}/", [], ""))


def run(config: BenchConfig) -> ScenarioResult:
    scenario = ScenarioResult(
        "connections",
        f"Connections: {config.idle_connections} idle authenticated subscriptions on one gateway",
        method=(
            f"bench.wsclients ({config.subscriber_processes} processes) open "
            f"{config.idle_connections} connections to one server process; memory = (VmRSS after "
            f"all subscribed + {SETTLE_SECONDS:.0f} s - VmRSS before) / connections; idle CPU = "
            f"utime+stime from /proc over {config.idle_window_seconds} s with no traffic; ours = "
            "gateway with graphql-transport-ws, token in connection_init, each connection a "
            "different member holding the web app's chatEvents document (Apollo's wire form, "
            f"members of chats of {GROUP}), then again with messageAdded(chatId) (one chat); "
            "baseline = bare websockets server"
        ),
        settings={
            "connections": config.idle_connections,
            "client_processes": config.subscriber_processes,
            "idle_window_seconds": config.idle_window_seconds,
        },
    )
    print("Connections baseline: bare websockets", flush=True)
    base = run_baseline(config)
    _print(base, "baseline")
    print("Connections ours: one gateway, the web app's chatEvents", flush=True)
    events = run_chat_events(config)
    _print(events, "ours (chatEvents)")
    _figures(scenario, "chatEvents", events, base, CHAT_EVENTS_KIB_TARGET)
    print("Connections ours: one gateway, messageAdded(chatId)", flush=True)
    ours = run_ours(config)
    _print(ours, "ours (messageAdded)")
    _figures(scenario, "messageAdded", ours, base, KIB_TARGET)
    return scenario


def _figures(
    scenario: ScenarioResult, label: str, ours: IdleRun, base: IdleRun, kib_target: float
) -> None:
    memory = scenario.add(
        Figure(
            f"{label}: memory per connection",
            ours.kib_per_connection,
            "KiB",
            base.kib_per_connection,
            higher_is_better=False,
            note=f"subscribed: ours {ours.connected}, baseline {base.connected}",
        )
    )
    memory.target = f"< {kib_target:.0f} KiB"
    memory.target_met = memory.value < kib_target and ours.connected == ours.requested
    scenario.add(
        Figure(
            f"{label}: idle CPU",
            ours.cpu_percent,
            "% of a core",
            base.cpu_percent,
            higher_is_better=False,
        )
    )
    scenario.add(
        Figure(f"{label}: connections held", ours.connected, "connections", base.connected)
    )
    failed = scenario.add(
        Figure(
            f"{label}: subscriptions failed",
            ours.failed,
            "subscriptions",
            base.failed,
            higher_is_better=False,
            note="not opened in the time budget, or ended by the server with an error",
        )
    )
    failed.target = "0"
    failed.target_met = ours.failed == 0
    scenario.add(
        Figure(
            f"{label}: subscriptions opened/s",
            ours.connected / ours.connect_seconds,
            "conn/s",
            base.connected / base.connect_seconds,
            note="connect + connection_init + subscribe, "
            f"{OPEN_AT_ONCE} at once per client process",
        )
    )
    if ours.first_error:
        scenario.notes.append(
            f"{label}: {ours.client_errors} client errors, e.g. {ours.first_error[:200]}"
        )


def _print(run: IdleRun, label: str) -> None:
    print(
        f"  {label}: subscribed {run.connected}/{run.requested}, "
        f"RSS {run.rss_before / 2**20:.1f} -> {run.rss_after / 2**20:.1f} MiB "
        f"({run.kib_per_connection:.1f} KiB each) in {run.connect_seconds:.1f} s, "
        f"idle CPU {run.cpu_percent:.2f} % over {run.window_seconds:.1f} s, "
        f"failed {run.failed}, client errors {run.client_errors}",
        flush=True,
    )
    if run.first_error:
        print(f"    {run.first_error[:200]}", flush=True)
