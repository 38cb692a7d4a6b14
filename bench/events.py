"""Scenarios `events` and `events_large`: fan-out of the web app's own `chatEvents`.

Ours: auth, chat and two gateways on a fresh MariaDB database and a private Redis. N members
of one chat (half on each gateway) hold the web app's `chatEvents` subscription, read from
web/src/operations.js as Apollo Client sends it (bench.web_operations.sent), with `after:` the
newest message as the web app's feed does. The sender sends with the web app's SEND_MESSAGE.
In `events` every viewer also has the chat open and marks it read as the web app does
(MARK_READ over its socket: at once when the chat opens, then at most once every 2 s plus a
random part of a second: bench.viewer), so read markers and their
read receipts (MessagesRead to the reader and the senders of what it read, `signals: true`) are
part of the load.

Phases as in bench.fanout (message 0 once all subscribed, paced, burst), then: viewers stop
marking, 2.5 s for the server's coalesced markers to land, a final message, and checks:
- service calls: requests the auth and chat processes answered on `/internal/` routes during
  the measured phases (their Prometheus counters), minus what the mutations the bench sent
  cost (calls per sendMessage measured first with nobody subscribed; the markRead and session
  touch routes are left out), divided by the MessageAdded deliveries;
- database writes: rows changed per table of the scenario's database (MariaDB `userstat`);
  chat_members rows are the read markers;
- unread counts: each viewer's unreadCount in the final MessageAdded, and the web app's CHATS
  query for (some of) them, against the count of messages after the marker the viewer's last
  acknowledged markRead set.

Baseline: two bare `websockets` broadcast processes over Redis sending the same bytes (a frame
our gateway sent for a MessageAdded, its text replaced).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect as ws_connect

from bench import counters, fanout
from bench.baseline_ws import TEXT_MARK
from bench.config import BenchConfig
from bench.procs import HOST, Proc
from bench.results_model import Figure, ScenarioResult
from bench.stack import (
    Stack,
    add_members_with_tokens,
    mychat_stack,
    seed_chat_with_history,
)
from bench.viewer import MARK_READ_EVERY_SECONDS, MarkSpec
from bench.web_operations import sent
from bench.wsclients import encode_text

FINAL_SEQ = 999_999
CAPTURE_SEQ = 888_888
CALIBRATION_SENDS = 3
# Every viewer is checked with the chat-list query up to this many, else a spread sample.
LIST_CHECKS = 1000
# Routes of the bench's own markRead mutations and of the once-a-minute session touch.
MARKS_ROUTE = "POST /internal/read-markers"
NOT_PER_DELIVERY = (MARKS_ROUTE, "POST /internal/sessions/touch")
FLUSH_WAIT = MARK_READ_EVERY_SECONDS + 0.5
# Subscriptions get this long to open (more for more of them): slow ones count as failed.
OPEN_BUDGET_SECONDS = 150.0
OPEN_SECONDS_PER_SUBSCRIBER = 0.06
QUIET_CPU = 0.1  # of a core, over a second
P99_TARGET_MS = 100.0
LARGE_RATIO_TARGET = 2.0


@dataclass
class EventsRun:
    fan: fanout.FanoutRun
    marks: int = 0
    mark_failures: int = 0
    first_mark_error: str | None = None
    signals: int = 0
    calls_per_send: dict[str, float] = field(default_factory=dict)
    calls_per_mark: dict[str, float] = field(default_factory=dict)
    window_calls: dict[str, int] = field(default_factory=dict)
    per_delivery_calls: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    rows_counted: bool = False
    window_seconds: float = math.nan
    readers: int = 0
    unread_checked_events: int = 0
    unread_wrong_events: int = 0
    unread_checked_list: int = 0
    unread_wrong_list: int = 0
    # Viewers with a mark whose answer was lost after their last acknowledged one.
    unread_unanswered: int = 0
    unread_examples: list[str] = field(default_factory=list)
    frame: str = ""
    open_seconds: float = math.nan
    settle_seconds: float = math.nan


class Chat:
    """The bench's side of the chat: the sender, and the web app's queries per viewer."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.url = stack.gateway_url(0)
        self.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.gid = self.find("history", token)[0]
        self.sent_ids: list[int] = []

    def post(self, document: str, variables: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            answer = self.client.post(
                self.url, json={"query": document, "variables": variables}, headers=headers
            )
            body = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise RuntimeError(f"{type(error).__name__}: {error}") from error
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {str(body['errors'])[:300]}")
        return body["data"]

    def find(self, name: str, token: str) -> tuple[str, int]:
        """(global id, unreadCount) of a chat in the web app's chat list, as `token` sees it."""
        data = self.post(sent("CHATS"), {"first": 20}, token)
        for edge in data["chats"]["edges"]:
            if edge["node"]["name"] == name:
                return str(edge["node"]["id"]), int(edge["node"]["unreadCount"])
        raise RuntimeError(f"chat {name!r} not in the list")

    def send(self, text: str) -> str:
        variables = {"chatId": self.gid, "text": text, "clientId": None, "replyTo": None}
        result = self.post(sent("SEND_MESSAGE"), variables)["sendMessage"]
        if result["__typename"] != "SendMessagePayload":
            raise RuntimeError(f"sendMessage failed: {str(result)[:300]}")
        self.sent_ids.append(int(result["message"]["databaseId"]))
        return str(result["message"]["id"])

    def mark(self, message_id: str) -> None:
        data = self.post(sent("MARK_READ"), {"chatId": self.gid, "messageId": message_id})
        if data["markRead"]["__typename"] != "MarkReadPayload":
            raise RuntimeError(f"markRead failed: {data}")

    def unread_after(self, marker: int) -> int:
        return sum(1 for message_id in self.sent_ids if message_id > marker)


def _wait_until_quiet(servers: list[Proc], timeout: float) -> float:
    """Seconds until every server uses under QUIET_CPU of a core over a second."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = [server.cpu_seconds() for server in servers]
        time.sleep(1.0)
        used = [server.cpu_seconds() - b for server, b in zip(servers, before, strict=True)]
        if max(used) < QUIET_CPU:
            break
    return time.monotonic() - started


def _send_surely(chat: Chat, text: str, tries: int = 3) -> None:
    """Messages the checks rely on (warm-up, final): tried again if the server was too busy."""
    for attempt in range(tries):
        try:
            chat.send(text)
            return
        except RuntimeError:
            if attempt == tries - 1:
                raise
            time.sleep(1.0)


def _calibrate(stack: Stack, chat: Chat, run: EventsRun) -> None:
    """Internal calls per sendMessage and per markRead, nobody subscribed."""
    ports = _service_ports(stack)
    before = counters.internal_calls(ports)
    ids = [chat.send(f"calibration {i}") for i in range(CALIBRATION_SENDS)]
    middle = counters.internal_calls(ports)
    for message_id in ids:
        chat.mark(message_id)
    after = counters.internal_calls(ports)
    run.calls_per_send = counters.per(counters.delta(middle, before), CALIBRATION_SENDS)
    run.calls_per_mark = counters.per(counters.delta(after, middle), CALIBRATION_SENDS)


def _service_ports(stack: Stack) -> list[int]:
    return [stack.metrics_ports["auth"], stack.metrics_ports["chat"]]


def _capture_frame(stack: Stack, chat: Chat, token: str, after: str) -> str:
    """A frame our gateway sends for a MessageAdded, its text replaced by TEXT_MARK."""
    url = f"ws://{HOST}:{stack.gateway_ports[0]}/mychat/graphql"
    protocols: Any = ["graphql-transport-ws"]
    origin: Any = "http://localhost"
    with ws_connect(url, subprotocols=protocols, origin=origin) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": token}}))
        ws.recv(timeout=30)
        payload = {"query": sent("CHAT_EVENTS"), "variables": {"after": after}}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        time.sleep(0.5)
        text = encode_text(CAPTURE_SEQ)
        chat.send(text)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            frame = str(ws.recv(timeout=30))
            if text in frame and '"MessageAdded"' in frame:
                return frame.replace(text, TEXT_MARK)
    raise RuntimeError("no MessageAdded frame captured")


def run_ours(config: BenchConfig, count: int, *, readers: bool) -> EventsRun:
    with (
        mychat_stack("events", gateways=2) as stack,
        counters.table_statistics(stack.database_url) as counting,
    ):
        return _run_ours(config, stack, count, readers=readers, counting=counting)


def _run_ours(
    config: BenchConfig, stack: Stack, count: int, *, readers: bool, counting: bool
) -> EventsRun:
    seeded = seed_chat_with_history(stack, messages=0)
    chat = Chat(stack, seeded.token)
    run = EventsRun(fanout.FanoutRun(count, 0), rows_counted=counting)
    _calibrate(stack, chat, run)
    tokens = add_members_with_tokens(stack, seeded.chat_id, count)
    cursor = chat.send("setup")
    newest_at_open = [cursor, chat.sent_ids[-1]]
    # What a new member's unread count holds besides the messages sent (system lines).
    offset = chat.find("history", tokens[0])[1] - chat.unread_after(0)
    ws_urls = [f"ws://{HOST}:{port}/mychat/graphql" for port in stack.gateway_ports[:2]]
    specs = fanout.split_specs(config, count, "graphql", ws_urls, tokens, chat.gid)
    mark = MarkSpec(sent("MARK_READ"), chat.gid)
    for spec in specs:
        spec.document = sent("CHAT_EVENTS")
        spec.variables = {"after": cursor}
        spec.mark = asdict(mark) if readers else None
        spec.newest_at_open = newest_at_open  # each viewer marks it when its chat opens
    run.readers = count if readers else 0
    send: Callable[[str], object] = chat.send
    ports = _service_ports(stack)
    budget = OPEN_BUDGET_SECONDS + count * OPEN_SECONDS_PER_SUBSCRIBER
    for spec in specs:
        spec.open_budget_seconds = budget
    with fanout.client_group(specs) as group:
        opening = time.monotonic()
        connected = group.start(budget + 60)
        run.open_seconds = time.monotonic() - opening
        # Each viewer's arrival is announced to the members online (PresencesChanged batches):
        # let the gateways finish delivering those before the measured phases.
        gateways = [stack.procs["gateway0"], stack.procs["gateway1"]]
        run.settle_seconds = _wait_until_quiet(gateways, budget)
        print(
            f"  opened {connected} in {run.open_seconds:.0f} s, gateways quiet "
            f"{run.settle_seconds:.0f} s later",
            flush=True,
        )
        _send_surely(chat, encode_text(0))
        warmed = group.warm(fanout.WARM_TIMEOUT * max(1, count // 1000))
        print(f"  {connected} subscribed, {warmed} received the warm-up message", flush=True)
        calls_before = counters.internal_calls(ports)
        rows_before = counters.rows_changed(stack.database_url) if counting else None
        started = time.monotonic()
        phases = fanout.send_phases(config, send)
        last = max(set(phases.burst) - phases.failed, default=0)
        have = group.wait_for(last, fanout.WARM_TIMEOUT)
        print(f"  {have} have the last burst message", flush=True)
        group.quiet()
        time.sleep(FLUSH_WAIT)  # markers coalesced by the server are written by then
        calls = counters.delta(counters.internal_calls(ports), calls_before)
        if rows_before is not None:
            run.rows = counters.rows_delta(counters.rows_changed(stack.database_url), rows_before)
        run.window_seconds = time.monotonic() - started
        _send_surely(chat, encode_text(FINAL_SEQ))
        group.wait_for(FINAL_SEQ, fanout.WARM_TIMEOUT)
        results = group.stop()
    run.fan = fanout.tally(results, phases, count, connected)
    sends = len(phases.paced) + len(phases.burst)
    run.window_calls = dict(sorted(calls.items()))
    run.per_delivery_calls = sum(
        max(0, round(value - sends * run.calls_per_send.get(route, 0.0)))
        for route, value in calls.items()
        if route not in NOT_PER_DELIVERY
    )
    _check_viewers(chat, tokens, results, offset, run)
    run.frame = _capture_frame(stack, chat, seeded.token, cursor)
    return run


def _check_viewers(
    chat: Chat, tokens: list[str], results: list[dict[str, Any]], offset: int, run: EventsRun
) -> None:
    final_id = chat.sent_ids[-1]
    viewers = [viewer for result in results for viewer in result["viewers"]]
    step = max(1, math.ceil(len(viewers) / LIST_CHECKS))
    for position, viewer in enumerate(viewers):
        marks = viewer["marks"] or {}
        run.marks += marks.get("marks", 0)
        run.mark_failures += marks.get("failures", 0)
        run.first_mark_error = run.first_mark_error or marks.get("first_error")
        run.signals += viewer["signals"]
        # The count after the last acknowledged marker, or after a later mark whose answer was
        # lost (the server may have applied it): any of these is exact, nothing else.
        acknowledged = marks.get("acknowledged", 0)
        markers = {acknowledged, *(m for m in marks.get("unanswered", ()) if m > acknowledged)}
        expected = {chat.unread_after(marker) + offset for marker in markers}
        run.unread_unanswered += len(markers) > 1
        if viewer["last_id"] == final_id:
            run.unread_checked_events += 1
            if viewer["unread"] not in expected:
                run.unread_wrong_events += 1
                got = viewer["unread"]
                _example(run, f"event: viewer {viewer['index']} {got} not in {expected}")
        if position % step == 0:
            _, listed = chat.find("history", tokens[viewer["index"]])
            run.unread_checked_list += 1
            if listed not in expected:
                run.unread_wrong_list += 1
                _example(run, f"list: viewer {viewer['index']} {listed} not in {expected}")


def _example(run: EventsRun, text: str) -> None:
    if len(run.unread_examples) < 5:
        run.unread_examples.append(text)


def run_baseline(config: BenchConfig, count: int, frame: str) -> fanout.FanoutRun:
    """Bare broadcast x2 over Redis of `frame` (TEXT_MARK replaced by each text)."""
    with tempfile.TemporaryDirectory() as folder:
        frame_path = Path(folder) / "frame.json"
        frame_path.write_text(frame)
        with (
            fanout.bare_broadcast("events-baseline", "--frame", str(frame_path)) as (urls, send),
            fanout.client_group(fanout.split_specs(config, count, "bare", urls, [], "")) as group,
        ):
            connected = group.start(fanout.READY_TIMEOUT)
            time.sleep(fanout.SETTLE_SECONDS)
            send(encode_text(0))
            group.warm(fanout.WARM_TIMEOUT)
            phases = fanout.send_phases(config, send)
            return fanout.tally(group.stop(), phases, count, connected)


def _method(config: BenchConfig, count: int, readers: bool) -> str:
    reading = (
        "every viewer marks the chat read as the web app does (MARK_READ over its socket, at "
        "most every 2 s); "
        if readers
        else "viewers do not mark read (chat not open); "
    )
    return (
        f"{count} members of one chat hold the web app's chatEvents document (Apollo's wire "
        f"form, read from web/src/operations.js by Node) over graphql-transport-ws, split "
        f"over 2 gateways, {config.subscriber_processes} subscriber processes; sender uses the "
        f"web app's SEND_MESSAGE on gateway 1; {reading}"
        f"paced: {config.fanout_messages} messages one every {config.fanout_interval_seconds} "
        f"s, burst: {config.fanout_burst}; latency = receive time minus the CLOCK_MONOTONIC "
        "stamp in the text; service calls = requests to /internal/ routes counted by the auth "
        "and chat processes' Prometheus counters during the phases, minus sendMessage's own "
        "(measured with nobody subscribed; markRead and session-touch routes left out), per "
        "MessageAdded delivered; DB writes = rows changed per table (MariaDB userstat); "
        "unread = final MessageAdded's chat.unreadCount and the CHATS query vs messages after "
        "each viewer's last acknowledged marker (or a later one whose answer was lost); "
        "baseline = bare websockets x2 over Redis broadcasting the same frame bytes"
    )


def _scenario(
    name: str, title: str, config: BenchConfig, count: int, readers: bool
) -> ScenarioResult:
    return ScenarioResult(
        name,
        title,
        method=_method(config, count, readers),
        settings={
            "subscribers": count,
            "readers": readers,
            "messages_paced": config.fanout_messages,
            "interval_seconds": config.fanout_interval_seconds,
            "messages_burst": config.fanout_burst,
            "subscriber_processes": config.subscriber_processes,
            "gateway_processes": 2,
            "subscription_document": "web/src/operations.js CHAT_EVENTS",
        },
    )


def _figures(scenario: ScenarioResult, ours: EventsRun, base: fanout.FanoutRun) -> Figure:
    fan = ours.fan
    p99 = fanout.delivery_figures(scenario, fan, base)
    failed = scenario.add(
        Figure("subscriptions failed", fan.failed, "subscriptions", base.failed, False)
    )
    failed.target, failed.target_met = "0", fan.failed == 0
    refused = scenario.add(
        Figure("sends failed", fan.failed_sends, "messages", base.failed_sends, False)
    )
    refused.target, refused.target_met = "0", fan.failed_sends == 0
    calls = scenario.add(
        Figure(
            "service calls per delivered event",
            ours.per_delivery_calls / max(1, fan.delivered),
            "calls",
            higher_is_better=False,
            note=f"{ours.per_delivery_calls} calls beyond the mutations' own over "
            f"{fan.delivered} MessageAdded deliveries",
        )
    )
    calls.target, calls.target_met = "0", ours.per_delivery_calls == 0 and fan.delivered > 0
    wrong = scenario.add(
        Figure(
            "unread counts wrong",
            ours.unread_wrong_events + ours.unread_wrong_list,
            "viewers",
            higher_is_better=False,
            note=f"checked {ours.unread_checked_events} final events and "
            f"{ours.unread_checked_list} chat-list queries; {ours.unread_unanswered} viewers "
            "had a later mark whose answer was lost (timed out): their count may follow it",
        )
    )
    wrong.target = "0"
    wrong.target_met = (
        wrong.value == 0 and ours.unread_checked_events >= fan.connected - fan.failed > 0
    )
    scenario.add(
        Figure(
            "delivered/s (burst)",
            fan.burst_delivered_per_second,
            "msg/s",
            base.burst_delivered_per_second,
        )
    )
    scenario.add(
        Figure(
            "service calls per sendMessage",
            sum(ours.calls_per_send.values()),
            "calls",
            higher_is_better=False,
            note=str(ours.calls_per_send),
        )
    )
    scenario.add(
        Figure(
            "signals delivered",
            ours.signals,
            "events",
            note="MessagesRead, PresenceChanged and other non-message events, whole run",
        )
    )
    scenario.add(Figure("frame size", len(ours.frame.encode()), "bytes", note="one MessageAdded"))
    scenario.add(
        Figure(
            "subscriptions opened in",
            ours.open_seconds,
            "s",
            higher_is_better=False,
            note="connect, connection_init, subscribe (with catch-up) for all",
        )
    )
    scenario.add(
        Figure(
            "gateways busy after opening",
            ours.settle_seconds,
            "s",
            higher_is_better=False,
            note="until both gateways use under 10% of a core (presence announcements)",
        )
    )
    scenario.settings["window_calls"] = ours.window_calls
    scenario.settings["calls_per_send"] = ours.calls_per_send
    scenario.settings["calls_per_mark"] = ours.calls_per_mark
    scenario.settings["rows_changed"] = ours.rows
    scenario.settings["window_seconds"] = round(ours.window_seconds, 2)
    scenario.series["delivery (ours)"] = fanout.thin(fan.paced_latencies_ms)
    scenario.series["delivery (baseline)"] = fanout.thin(base.paced_latencies_ms)
    for note in ours.unread_examples:
        scenario.notes.append(f"unread mismatch: {note}")
    if fan.first_errors:
        scenario.notes.append(f"ours: {fan.errors} client errors, e.g. {fan.first_errors[0][:200]}")
    return p99


def _reading_figures(scenario: ScenarioResult, ours: EventsRun) -> None:
    scenario.add(
        Figure(
            "service calls per markRead",
            sum(ours.calls_per_mark.values()),
            "calls",
            higher_is_better=False,
            note=str(ours.calls_per_mark),
        )
    )
    if ours.marks:
        scenario.add(
            Figure(
                "service calls per markRead under load",
                ours.window_calls.get(MARKS_ROUTE, 0) / ours.marks,
                "calls",
                higher_is_better=False,
                note="read-marker calls in the measured phases per markRead of the run: each "
                "gateway sends the marks made while its previous call was out together",
            )
        )
    scenario.add(Figure("markRead mutations", ours.marks, "requests", note="whole run"))
    failures = scenario.add(
        Figure("markRead failures", ours.mark_failures, "requests", higher_is_better=False)
    )
    failures.target, failures.target_met = "0", ours.mark_failures == 0
    if ours.first_mark_error:
        scenario.notes.append(f"markRead: {ours.first_mark_error[:200]}")
    if not ours.rows_counted:
        scenario.notes.append("database writes not counted: MariaDB userstat could not be set")
        return
    markers = ours.rows.get("chat_members", 0)
    periods = ours.window_seconds / MARK_READ_EVERY_SECONDS
    writes = scenario.add(
        Figure(
            "read-marker writes per viewer per 2 s",
            markers / max(1, ours.readers) / periods,
            "writes",
            higher_is_better=False,
            note=f"{markers} chat_members rows changed over {ours.window_seconds:.1f} s by "
            f"{ours.readers} viewers",
        )
    )
    writes.target, writes.target_met = "<= 1", writes.value <= 1.0
    scenario.add(
        Figure(
            "DB rows written per delivered event",
            sum(ours.rows.values()) / max(1, ours.fan.delivered),
            "rows",
            higher_is_better=False,
            note=str(ours.rows),
        )
    )


def _print(ours: EventsRun) -> None:
    print(
        f"  window {ours.window_seconds:.1f} s; internal calls {ours.window_calls}; "
        f"per send {ours.calls_per_send}; per mark {ours.calls_per_mark}; "
        f"beyond the mutations {ours.per_delivery_calls}; rows {ours.rows}; "
        f"marks {ours.marks} (failed {ours.mark_failures}); signals {ours.signals}; "
        f"unread wrong {ours.unread_wrong_events}/{ours.unread_checked_events} events, "
        f"{ours.unread_wrong_list}/{ours.unread_checked_list} lists",
        flush=True,
    )
    for example in ours.unread_examples:
        print(f"    {example}", flush=True)


def run(config: BenchConfig) -> ScenarioResult:
    """`events`: N viewers with the chat open (they mark it read), p99 under 100 ms."""
    count = config.events_subscribers
    scenario = _scenario(
        "events",
        f"chatEvents fan-out: {count} viewers of one chat marking it read, 2 gateways",
        config,
        count,
        True,
    )
    print(f"chatEvents ours: {count} viewers, 2 gateways, reading", flush=True)
    ours = run_ours(config, count, readers=True)
    fanout.print_run(ours.fan, "ours")
    _print(ours)
    print("chatEvents baseline: bare websockets x2, the same frame", flush=True)
    base = run_baseline(config, count, ours.frame)
    fanout.print_run(base, "baseline")
    p99 = _figures(scenario, ours, base)
    p99.target = f"< {P99_TARGET_MS:.0f} ms"
    p99.target_met = not math.isnan(p99.value) and p99.value < P99_TARGET_MS
    _reading_figures(scenario, ours)
    return scenario


def run_large(config: BenchConfig) -> ScenarioResult:
    """`events_large`: many viewers (chat not open), p99 within 2x the bare broadcast."""
    count = config.events_large_subscribers
    scenario = _scenario(
        "events_large",
        f"chatEvents fan-out: {count} subscribers of one chat, 2 gateways",
        config,
        count,
        False,
    )
    started = time.monotonic()
    print(f"chatEvents ours: {count} subscribers, 2 gateways", flush=True)
    ours = run_ours(config, count, readers=False)
    fanout.print_run(ours.fan, "ours")
    _print(ours)
    ours_seconds = time.monotonic() - started
    print("chatEvents baseline: bare websockets x2, the same frame", flush=True)
    base = run_baseline(config, count, ours.frame)
    fanout.print_run(base, "baseline")
    p99 = _figures(scenario, ours, base)
    p99.target = f"<= {LARGE_RATIO_TARGET:.0f}x baseline"
    ratio = p99.ratio
    p99.target_met = ratio is not None and ratio <= LARGE_RATIO_TARGET
    scenario.settings["ours_seconds"] = round(ours_seconds)
    return scenario
