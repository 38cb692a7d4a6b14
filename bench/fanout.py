"""Scenario 3, fan-out: 1 sender, N subscribers of one chat over two gateway processes.

Ours: auth, chat and two gateways on a fresh MariaDB database and a private Redis; the
subscribers (members of the chat, half on each gateway) hold `messageAdded(chatId)` over
graphql-transport-ws; the sender calls `sendMessage` on the first gateway. Baseline: two bare
`websockets` broadcast processes joined by the same kind of Redis channel; the sender publishes
over a WebSocket to the first. Each message text carries its send time (CLOCK_MONOTONIC), so
every subscriber measures send-to-delivery latency itself.

Our subscribers subscribe with `after:` a message sent before they connect (as the web app
does), so a subscription that the server sets up late still gets everything through catch-up.
Message 0 is sent once all have subscribed and the measured phases wait until every open
subscription has it (a missing one counts as lost). Then two phases: paced (one message every
`fanout_interval_seconds`: latency and losses) and burst (messages back to back, each send
awaited: deliveries per second in total).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.sync.client import connect as ws_connect

from bench import documents
from bench.config import BenchConfig
from bench.procs import HOST, Proc, free_port, python_module
from bench.results_model import Figure, ScenarioResult
from bench.stack import (
    Stack,
    add_members_with_tokens,
    mychat_stack,
    private_redis,
    seed_chat_with_history,
)
from bench.stats import percentile
from bench.wsclients import ClientGroup, ClientSpec, encode_text

P99_TARGET_MS = 100.0
READY_TIMEOUT = 300.0
SETTLE_SECONDS = 1.0
WARM_TIMEOUT = 60.0
# Handshakes in flight per subscriber process: a gentle ramp, this scenario is about delivery.
OPEN_AT_ONCE = 20

Sender = Callable[[str], object]


@dataclass
class FanoutRun:
    subscribers: int
    connected: int
    paced_latencies_ms: list[float] = field(default_factory=list)
    paced_lost: int = 0
    # Message 0, sent once every subscription was open (its latency is not measured).
    warmup_lost: int = 0
    # Subscriptions the server failed or ended (not counted in lost), plus those never opened.
    failed: int = 0
    burst_delivered_per_second: float = math.nan
    burst_lost: int = 0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    # Measured messages (paced and burst) delivered to subscriptions that stayed open.
    delivered: int = 0
    failed_sends: int = 0


def _drive(config: BenchConfig, group: ClientGroup, send: Sender, subscribers: int) -> FanoutRun:
    connected = group.start(READY_TIMEOUT)
    time.sleep(SETTLE_SECONDS)
    # Message 0 (latency not measured) shows every subscription live before the measured ones.
    send(encode_text(0))
    warmed = group.warm(WARM_TIMEOUT)
    print(f"  {connected} subscribed, {warmed} received the warm-up message", flush=True)
    phases = send_phases(config, send)
    return tally(group.stop(), phases, subscribers, connected)


@dataclass
class Phases:
    """What was sent in the measured phases, and when (CLOCK_MONOTONIC ns, as in the texts)."""

    paced: range
    burst: range
    sent_at: dict[int, int]
    burst_started: int
    # Messages whose send failed (the server refused or timed out): not expected anywhere.
    failed: set[int] = field(default_factory=set)


def send_phases(config: BenchConfig, send: Sender) -> Phases:
    """Paced messages (one every `fanout_interval_seconds`), a pause, then a burst."""
    sent_at: dict[int, int] = {}
    failed: set[int] = set()

    def send_one(seq: int) -> None:
        text = encode_text(seq)
        sent_at[seq] = int(text.split()[2])
        try:
            send(text)
        except RuntimeError as error:  # counted; a message never sent is not lost
            failed.add(seq)
            print(f"  send {seq} failed: {str(error)[:200]}", flush=True)

    paced = range(1, config.fanout_messages + 1)
    started = time.monotonic()
    for seq in paced:
        send_one(seq)
        next_send = started + seq * config.fanout_interval_seconds
        time.sleep(max(0.0, next_send - time.monotonic()))
    time.sleep(1.0)
    burst = range(paced.stop, paced.stop + config.fanout_burst)
    burst_started = time.monotonic_ns()
    for seq in burst:
        send_one(seq)
    return Phases(paced, burst, sent_at, burst_started, failed)


def tally(
    results: list[dict[str, Any]], phases: Phases, subscribers: int, connected: int
) -> FanoutRun:
    """Latencies, losses and failures from the subscriber processes' results."""
    sent_at = phases.sent_at
    paced = set(phases.paced) - phases.failed
    burst = set(phases.burst) - phases.failed
    run = FanoutRun(subscribers, connected, failed_sends=len(phases.failed))
    last_delivery = phases.burst_started
    burst_delivered = 0
    for result in results:
        run.errors += result["error_count"]
        run.first_errors += result["errors"][:3]
        for (seqs, latencies), ended in zip(result["received"], result["ended"], strict=True):
            if ended:
                run.failed += 1
                continue
            seen_paced: set[int] = set()
            seen_burst: set[int] = set()
            for seq, latency in zip(seqs, latencies, strict=True):
                if seq in paced and seq not in seen_paced:
                    seen_paced.add(seq)
                    run.paced_latencies_ms.append(latency)
                elif seq in burst and seq not in seen_burst:
                    seen_burst.add(seq)
                    burst_delivered += 1
                    last_delivery = max(last_delivery, sent_at[seq] + int(latency * 1e6))
            run.paced_lost += len(paced) - len(seen_paced)
            run.warmup_lost += 0 not in seqs
            run.burst_lost += len(burst) - len(seen_burst)
    run.failed += subscribers - connected
    run.delivered = len(run.paced_latencies_ms) + burst_delivered
    if last_delivery > phases.burst_started:
        seconds = (last_delivery - phases.burst_started) / 1e9
        run.burst_delivered_per_second = burst_delivered / seconds
    return run


def split_specs(
    config: BenchConfig,
    count: int,
    mode: str,
    urls: list[str],
    tokens: list[str],
    chat_id: str,
    *,
    after: str | None = None,
) -> list[ClientSpec]:
    processes = max(1, config.subscriber_processes)
    share = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    specs = []
    offset = 0
    for size in share:
        specs.append(
            ClientSpec(
                mode,
                urls,
                tokens[offset : offset + size] or [""],
                chat_id,
                size,
                after=after,
                first_index=offset,
            )
        )
        offset += size
    return specs


@contextmanager
def client_group(specs: list[ClientSpec]) -> Iterator[ClientGroup]:
    group = ClientGroup(specs)
    try:
        yield group
    finally:
        group.kill()


def run_ours(config: BenchConfig, on_start: Callable[[Stack], None] | None = None) -> FanoutRun:
    """`on_start` sees the running stack first (bench.profile attaches py-spy there)."""
    count = config.fanout_subscribers
    with mychat_stack("fanout", gateways=2) as stack:
        if on_start is not None:
            on_start(stack)
        seeded = seed_chat_with_history(stack, messages=0)
        gateway = stack.gateway_url(0)
        headers = {"Authorization": f"Bearer {seeded.token}"}
        with httpx.Client(headers=headers, timeout=30) as client:
            listing = client.post(
                gateway, json={"query": "{ chats(first: 5) { edges { node { id name } } } }"}
            ).json()
            chat_gid = next(
                e["node"]["id"]
                for e in listing["data"]["chats"]["edges"]
                if e["node"]["name"] == "history"
            )
            tokens = add_members_with_tokens(stack, seeded.chat_id, count)
            urls = [f"ws://{HOST}:{port}/mychat/graphql" for port in stack.gateway_ports[:2]]

            def send(text: str) -> str:
                response = client.post(
                    gateway,
                    json={"query": documents.SEND, "variables": {"chatId": chat_gid, "text": text}},
                )
                if "SendMessagePayload" not in response.text:
                    raise RuntimeError(f"sendMessage failed: {response.text[:300]}")
                message_id: str = response.json()["data"]["sendMessage"]["message"]["id"]
                return message_id

            # Subscribers catch up from this message (as the web app does): nothing sent after
            # it may be missing, however late a subscription starts on the server.
            cursor = send("setup")
            specs = split_specs(config, count, "graphql", urls, tokens, chat_gid, after=cursor)
            with client_group(specs) as group:
                return _drive(config, group, send, count)


@contextmanager
def bare_broadcast(name: str, *extra: str) -> Iterator[tuple[list[str], Callable[[str], None]]]:
    """Two bare `websockets` broadcast processes over a private Redis (`extra`: more arguments
    of bench.baseline_ws): their URLs, and a publish through the first."""
    with private_redis() as redis_url:
        ports = [free_port(), free_port()]
        servers = [
            Proc(
                f"{name}{i}",
                python_module(
                    "bench.baseline_ws", "--port", str(port), "--redis", redis_url, *extra
                ),
                port=port,
            )
            for i, port in enumerate(ports)
        ]
        for server in servers:
            server.start()
        try:
            urls = [f"ws://{HOST}:{port}/" for port in ports]
            with ws_connect(urls[0]) as sender:

                def send(text: str) -> None:
                    sender.send(f"publish {text}")
                    if sender.recv(timeout=30) != "ok":
                        raise RuntimeError("baseline publish failed")

                yield urls, send
        finally:
            for server in servers:
                server.stop()


def run_baseline(config: BenchConfig) -> FanoutRun:
    count = config.fanout_subscribers
    with (
        bare_broadcast("fanout-baseline") as (urls, send),
        client_group(split_specs(config, count, "bare", urls, [], "")) as group,
    ):
        return _drive(config, group, send, count)


def latency(run: FanoutRun, q: float) -> float:
    return percentile(run.paced_latencies_ms, q)


def delivery_figures(scenario: ScenarioResult, ours: FanoutRun, base: FanoutRun) -> Figure:
    """Send-to-delivery p99 (with its target), p50 and max, and messages lost; the p99."""
    p99 = scenario.add(
        Figure("delivery p99", latency(ours, 99), "ms", latency(base, 99), higher_is_better=False)
    )
    p99.target = f"< {P99_TARGET_MS:.0f} ms"
    p99.target_met = not math.isnan(p99.value) and p99.value < P99_TARGET_MS
    scenario.add(
        Figure("delivery p50", latency(ours, 50), "ms", latency(base, 50), higher_is_better=False)
    )
    scenario.add(
        Figure(
            "delivery max",
            max(ours.paced_latencies_ms, default=math.nan),
            "ms",
            max(base.paced_latencies_ms, default=math.nan),
            higher_is_better=False,
        )
    )
    lost = scenario.add(
        Figure(
            "lost",
            ours.warmup_lost + ours.paced_lost + ours.burst_lost,
            "messages",
            base.warmup_lost + base.paced_lost + base.burst_lost,
            higher_is_better=False,
            note="warm-up + paced + burst messages missing at subscriptions that stayed open",
        )
    )
    lost.target = "0"
    lost.target_met = lost.value == 0 and ours.failed == 0
    return p99


def run(config: BenchConfig) -> ScenarioResult:
    scenario = ScenarioResult(
        "fanout",
        f"Fan-out: 1 sender, {config.fanout_subscribers} subscribers, 2 processes via Redis",
        method=(
            f"bench.wsclients ({config.subscriber_processes} processes, websockets client); "
            f"{config.fanout_subscribers} subscribers split over 2 server processes; "
            f"paced: {config.fanout_messages} messages, one every "
            f"{config.fanout_interval_seconds} s (latency = subscriber's receive time minus "
            f"the sender's CLOCK_MONOTONIC stamp in the text); burst: {config.fanout_burst} "
            "messages back to back (deliveries/s = deliveries / (last delivery - first send)); "
            "subscribers use after: <cursor> (catch-up); message 0 sent once all subscribed, "
            "measured phases start when every open subscription has it; "
            "lost counts messages missing at subscriptions that stayed open, failed counts "
            "subscriptions the server refused or ended; "
            "ours = sendMessage on gateway 1 -> chat_service -> MariaDB -> Redis -> 2 gateways "
            "-> graphql-transport-ws; baseline = bare websockets broadcast x2 over Redis"
        ),
        settings={
            "subscribers": config.fanout_subscribers,
            "messages_paced": config.fanout_messages,
            "interval_seconds": config.fanout_interval_seconds,
            "messages_burst": config.fanout_burst,
            "subscriber_processes": config.subscriber_processes,
            "gateway_processes": 2,
        },
    )
    print("Fan-out baseline: bare websockets x2 over Redis", flush=True)
    base = run_baseline(config)
    print_run(base, "baseline")
    print("Fan-out ours: 2 gateways over Redis", flush=True)
    ours = run_ours(config)
    print_run(ours, "ours")
    delivery_figures(scenario, ours, base)
    failed = scenario.add(
        Figure(
            "subscriptions failed",
            ours.failed,
            "subscriptions",
            base.failed,
            higher_is_better=False,
            note="never opened, or ended by the server with an error before the end",
        )
    )
    failed.target = "0"
    failed.target_met = ours.failed == 0
    scenario.add(
        Figure(
            "delivered/s (burst)",
            ours.burst_delivered_per_second,
            "msg/s",
            base.burst_delivered_per_second,
        )
    )
    scenario.series["delivery (ours)"] = thin(ours.paced_latencies_ms)
    scenario.series["delivery (baseline)"] = thin(base.paced_latencies_ms)
    if ours.first_errors:
        scenario.notes.append(
            f"ours: {ours.errors} client errors, e.g. {ours.first_errors[0][:200]}"
        )
    return scenario


def thin(samples: list[float], points: int = 3000) -> list[float]:
    """Evenly spaced order statistics, always keeping the maximum (the plot's tail)."""
    ordered = sorted(samples)
    if len(ordered) <= points:
        return ordered
    return [*ordered[:: len(ordered) // points], ordered[-1]]


def print_run(run: FanoutRun, label: str) -> None:
    print(
        f"  {label}: subscribed {run.connected}/{run.subscribers}, "
        f"p50 {latency(run, 50):.1f} ms, p99 {latency(run, 99):.1f} ms, "
        f"max {max(run.paced_latencies_ms, default=math.nan):.1f} ms, "
        f"lost {run.warmup_lost} warm-up + {run.paced_lost} paced + {run.burst_lost} burst, "
        f"failed {run.failed}, failed sends {run.failed_sends}, "
        f"burst {run.burst_delivered_per_second:.0f} deliveries/s, client errors {run.errors}",
        flush=True,
    )
    for error in run.first_errors[:3]:
        print(f"    {error[:200]}", flush=True)
