"""`make soak`: users chat through nginx while a chaos loop kills a random process every few s.

`python -m bench.soak [--users N] [--seconds S] [--every K]` starts `mychat stack` as an operator
does (a subprocess, on a fresh MariaDB database and a private redis-server on its own port),
signs up N users in chats of four, and has every user subscribe to their chat (reconnecting
with `after:` its last message, as the web app does) and send a message every second (with a
client id, retried until accepted, as the web app does). Meanwhile a chaos loop SIGKILLs one
of nginx, auth, chat, a gateway or Redis every K seconds; the stack restarts what it runs.

At the end it checks every subscriber against what the senders saw accepted, and writes
bench/results/soak.json and soak.md: accepted, delivered, lost (must be 0), duplicated (must be
0), latencies, restarts, and each process's memory at start and end. Bounded: S seconds of
chaos plus a drain of at most DRAIN_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from websockets import Subprotocol
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from assembly.stack import drop_database
from bench.documents import MESSAGE_ADDED
from bench.procs import HOST, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DRAIN_SECONDS = 30.0
WARM_UP_SECONDS = 10.0
CHAT_SIZE = 4
PASSWORD = "soak password 123"
# The web app's SendMessage (web/src/operations.js): a client id makes a retried send idempotent.
SEND = """mutation SendMessage($chatId: ID!, $text: String!, $clientId: String) {
  sendMessage(chatId: $chatId, text: $text, clientId: $clientId) {
    __typename
    ... on SendMessagePayload { message { id databaseId clientId } }
    ... on Error { errorMessage: message code }
  }
}"""
REGISTER = """mutation Register($login: String!, $password: String!, $nickname: String!) {
  register(login: $login, password: $password, nickname: $nickname) {
    __typename ... on AuthPayload { token }
  }
}"""
VICTIMS = ("nginx", "auth", "chat", "gateway-1", "gateway-2", "redis")


@dataclass
class User:
    login: str
    token: str
    chat: str = ""


@dataclass
class Subscriber:
    url: str
    user: User
    after: str | None = None
    received: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    reconnects: int = -1

    async def run(self, sent_at: dict[str, float]) -> None:
        while True:
            try:
                async with connect(
                    self.url,
                    subprotocols=[Subprotocol("graphql-transport-ws")],
                    open_timeout=5,
                ) as socket:
                    self.reconnects += 1
                    init = {"authorization": f"Bearer {self.user.token}"}
                    await socket.send(json.dumps({"type": "connection_init", "payload": init}))
                    variables = {"chatId": self.user.chat, "after": self.after}
                    payload = {"query": MESSAGE_ADDED, "variables": variables}
                    await socket.send(
                        json.dumps({"id": "1", "type": "subscribe", "payload": payload})
                    )
                    async for raw in socket:
                        message = json.loads(raw)
                        if message["type"] in ("connection_ack", "pong", "ping"):
                            continue
                        if message["type"] != "next" or "errors" in message["payload"]:
                            break  # the subscription ended (a service was down): again
                        added = message["payload"]["data"]["messageAdded"]
                        self.received.append(added["databaseId"])
                        self.after = added["id"]
                        started = sent_at.get(added["text"])
                        if started is not None:
                            self.latencies.append(time.monotonic() - started)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                pass
            await asyncio.sleep(0.2)


@dataclass
class MemorySample:
    """One process's memory when first and last seen (a restarted role has a new pid)."""

    role: str
    first_at: float
    first_mib: float
    last_at: float = 0.0
    last_mib: float = 0.0


def longest_lived(samples: dict[int, MemorySample]) -> dict[str, dict[str, float]]:
    """Per role, the process that was watched longest: its memory then, and its lifetime."""
    best: dict[str, MemorySample] = {}
    for sample in samples.values():
        current = best.get(sample.role)
        lived = sample.last_at - sample.first_at
        if current is None or lived > current.last_at - current.first_at:
            best[sample.role] = sample
    return {
        role: {
            "first_mib": s.first_mib,
            "last_mib": s.last_mib,
            "seconds": round(s.last_at - s.first_at, 1),
        }
        for role, s in best.items()
    }


async def watch_memory(stack: Stack, samples: dict[int, MemorySample]) -> None:
    while True:
        await asyncio.to_thread(stack.sample_memory, samples)
        await asyncio.sleep(2.0)


@dataclass
class Totals:
    accepted: dict[str, list[int]] = field(default_factory=dict)  # chat -> database ids
    send_seconds: list[float] = field(default_factory=list)  # first try to accepted
    retries: int = 0
    failures: dict[str, int] = field(default_factory=dict)


async def send_forever(
    client: httpx.AsyncClient, user: User, totals: Totals, sent_at: dict[str, float]
) -> None:
    number = 0
    while True:
        number += 1
        text = f"{user.login} {number}"
        client_id = str(uuid.uuid4())
        started = sent_at[text] = time.monotonic()
        while True:
            failure = await try_send(client, user, text, client_id, totals)
            if failure is None:
                break
            totals.failures[failure] = totals.failures.get(failure, 0) + 1
            totals.retries += 1
            await asyncio.sleep(0.2)
        totals.send_seconds.append(time.monotonic() - started)
        await asyncio.sleep(random.uniform(0.5, 1.5))


async def try_send(
    client: httpx.AsyncClient, user: User, text: str, client_id: str, totals: Totals
) -> str | None:
    variables = {"chatId": user.chat, "text": text, "clientId": client_id}
    try:
        response = await client.post(
            "/mychat/graphql",
            json={"query": SEND, "variables": variables},
            headers={"Authorization": f"Bearer {user.token}"},
        )
    except httpx.TransportError as error:
        return f"transport {type(error).__name__}"
    if response.status_code != 200:
        return f"http {response.status_code}"
    body = response.json()
    if body.get("errors"):
        return "graphql " + str(body["errors"][0].get("extensions", {}).get("code"))
    result = body["data"]["sendMessage"]
    if result["__typename"] != "SendMessagePayload":
        return f"{result['__typename']} {result.get('code')}"
    totals.accepted.setdefault(user.chat, []).append(result["message"]["databaseId"])
    return None


class Stack:
    """`mychat stack` as a subprocess, and its children by role."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.url = ""
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assembly.cli", "stack", "--gateways", "2", "--port", "0",
             "--workdir", str(self.workdir)],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            match = re.search(r"MyChat stack on (http://\S+?)/ ", line)
            if match:
                self.url = match[1]
                return
        raise RuntimeError("mychat stack did not start:\n" + "\n".join(self.lines))

    def role_pids(self) -> dict[str, int]:
        assert self.process is not None
        conf = (self.workdir / "nginx" / "nginx.conf").read_text()
        ports = [int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+)", conf)]
        names = ["auth", "chat", *(f"gateway-{i}" for i in range(1, len(ports) - 1))]
        found: dict[str, int] = {}
        for child in psutil.Process(self.process.pid).children():
            try:
                cmdline = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if " ".join(cmdline).startswith("nginx: master"):
                found["nginx"] = child.pid
            elif "serve" in cmdline and "--port" in cmdline:
                port = int(cmdline[cmdline.index("--port") + 1])
                found[names[ports.index(port)]] = child.pid
        return found

    def sample_memory(self, samples: dict[int, MemorySample]) -> None:
        """Add the current memory of every process (by pid) to `samples`, from its tenth
        second on (a process that has just started is still importing and warming up)."""
        now = time.monotonic()
        for role, pid in self.role_pids().items():
            try:
                if time.time() - psutil.Process(pid).create_time() < WARM_UP_SECONDS:
                    continue
                mib = self._rss_mib(role, pid)
            except psutil.NoSuchProcess:
                continue
            sample = samples.setdefault(pid, MemorySample(role, now, mib))
            sample.last_at, sample.last_mib = now, mib

    @staticmethod
    def _rss_mib(role: str, pid: int) -> float:
        process = psutil.Process(pid)
        rss: int = process.memory_info().rss
        if role == "nginx":
            rss += sum(c.memory_info().rss for c in process.children())
        return round(rss / 2**20, 1)

    def memory_mib(self) -> dict[str, float]:
        memory: dict[str, float] = {}
        for role, pid in self.role_pids().items():
            try:
                memory[role] = self._rss_mib(role, pid)
            except psutil.NoSuchProcess:
                continue
        return memory

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.process.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
        self.lines += rest.splitlines()


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


async def chaos(stack: Stack, redis: PrivateRedis, every: float, log: list[str]) -> None:
    started = time.monotonic()
    while True:
        await asyncio.sleep(every)
        victim = random.choice(VICTIMS)
        at = time.monotonic() - started
        if victim == "redis":
            redis.kill()
            log.append(f"{at:6.1f}s kill -9 redis (started again after 1 s)")
            await asyncio.sleep(1.0)
            await asyncio.to_thread(redis.start)
            continue
        pid = stack.role_pids().get(victim)
        if pid is None:
            log.append(f"{at:6.1f}s {victim} is restarting, skipped")
            continue
        os.kill(pid, signal.SIGKILL)
        log.append(f"{at:6.1f}s kill -9 {victim} (pid {pid})")


async def setup_users(client: httpx.AsyncClient, count: int) -> list[User]:
    users: list[User] = []
    for i in range(count):
        login = f"soak{i}{secrets.token_hex(3)}"
        # Through GraphQL, as the web app signs up (nginx's REST sign-up zone allows 10 a minute).
        variables = {"login": login, "password": PASSWORD, "nickname": login}
        response = await client.post(
            "/mychat/graphql", json={"query": REGISTER, "variables": variables}
        )
        response.raise_for_status()
        users.append(User(login, response.json()["data"]["register"]["token"]))
    for start in range(0, count, CHAT_SIZE):
        group = users[start : start + CHAT_SIZE]
        owner = group[0]
        auth = {"Authorization": f"Bearer {owner.token}"}
        created = await client.post("/mychat/api/chat/", json={"name": "Soak"}, headers=auth)
        chat_id = created.json()["chat_id"]
        for member in group[1:]:
            await client.post(
                f"/mychat/api/chat/{chat_id}/add-user",
                json={"nickname": member.login},
                headers=auth,
            )
        listed = await client.post(
            "/mychat/graphql",
            json={"query": "{ chats { edges { node { id databaseId } } } }"},
            headers=auth,
        )
        edges = listed.json()["data"]["chats"]["edges"]
        chat = next(e["node"]["id"] for e in edges if e["node"]["databaseId"] == chat_id)
        for member in group:
            member.chat = chat
    return users


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def soak(users_count: int, seconds: float, every: float, workdir: Path) -> dict[str, Any]:
    database = f"mychat_soak_{secrets.token_hex(4)}"
    database_url = f"mysql+asyncmy://root@127.0.0.1:3306/{database}?charset=utf8mb4"
    redis = PrivateRedis(workdir)
    redis.start()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET")
    }
    # The soak's users all come from 127.0.0.1: lift the per-address sign-up limit.
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis.url,
                "MYCHAT_LOGIN_RATE_PER_MINUTE": "100000"})  # fmt: skip
    stack = Stack(workdir / "stack", env)
    chaos_log: list[str] = []
    memory_samples: dict[int, MemorySample] = {}
    try:
        await asyncio.to_thread(stack.start)
        async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
            users = await setup_users(client, users_count)
            ws_url = stack.url.replace("http://", "ws://") + "/mychat/graphql"
            sent_at: dict[str, float] = {}
            subscribers = [Subscriber(ws_url, user) for user in users]
            totals = Totals()
            listening = [asyncio.create_task(s.run(sent_at)) for s in subscribers]
            await asyncio.sleep(2.0)
            memory_start = stack.memory_mib()
            pids_start = stack.role_pids()
            senders = [
                asyncio.create_task(send_forever(client, user, totals, sent_at)) for user in users
            ]
            chaos_task = asyncio.create_task(chaos(stack, redis, every, chaos_log))
            memory_task = asyncio.create_task(watch_memory(stack, memory_samples))
            await asyncio.sleep(seconds)
            chaos_task.cancel()
            memory_task.cancel()
            for task in senders:
                task.cancel()
            await asyncio.gather(chaos_task, memory_task, *senders, return_exceptions=True)
            if redis.process is None or redis.process.poll() is not None:
                redis.start()
            # Let restarted processes come back, then let every subscriber catch up.
            deadline = time.monotonic() + DRAIN_SECONDS
            while time.monotonic() < deadline:
                if all(
                    set(s.received) >= set(totals.accepted.get(s.user.chat, []))
                    for s in subscribers
                ):
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)  # duplicates, if any, arrive now
            memory_end = stack.memory_mib()
            pids_end = stack.role_pids()
            for task in listening:
                task.cancel()
            await asyncio.gather(*listening, return_exceptions=True)
    finally:
        stack.stop()
        redis.kill()
        await drop_database(database_url)

    accepted = sum(len(ids) for ids in totals.accepted.values())
    lost = duplicated = delivered = 0
    latencies: list[float] = []
    lost_detail: list[dict[str, Any]] = []
    for subscriber in subscribers:
        expected = set(totals.accepted.get(subscriber.user.chat, []))
        got = subscriber.received
        delivered += len(got)
        missing = sorted(expected - set(got))
        lost += len(missing)
        if missing:  # a gap (later ones arrived) or a subscriber that never caught up
            lost_detail.append(
                {"subscriber": subscriber.user.login, "missing": missing, "last": max(got or [0])}
            )
        duplicated += len(got) - len(set(got))
        latencies += subscriber.latencies
    restarts = [line for line in stack.lines if " restarted (pid" in line]
    return {
        "users": users_count,
        "seconds": seconds,
        "kill_every_seconds": every,
        "accepted": accepted,
        "expected_deliveries": sum(len(totals.accepted.get(s.user.chat, [])) for s in subscribers),
        "delivered": delivered,
        "lost": lost,
        "lost_detail": lost_detail,
        "duplicated": duplicated,
        "send_retries": totals.retries,
        "send_failures_seen": totals.failures,
        "send_latency_ms": {
            "p50": round(percentile(totals.send_seconds, 0.5) * 1000, 1),
            "p99": round(percentile(totals.send_seconds, 0.99) * 1000, 1),
        },
        "delivery_latency_ms": {
            "p50": round(percentile(latencies, 0.5) * 1000, 1),
            "p99": round(percentile(latencies, 0.99) * 1000, 1),
        },
        "reconnects": sum(max(0, s.reconnects) for s in subscribers),
        "chaos": chaos_log,
        "restarts": len(restarts),
        "memory_mib_start": memory_start,
        "memory_mib_end": memory_end,
        "memory_mib_longest_lived": longest_lived(memory_samples),
        "restarted_during_run": sorted(r for r in pids_start if pids_end.get(r) != pids_start[r]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def markdown(result: dict[str, Any]) -> str:
    ok = result["lost"] == 0 and result["duplicated"] == 0
    failures: dict[str, int] = result["send_failures_seen"]
    lines = [
        "# Soak: chat through nginx while processes are killed",
        "",
        f"{result['date']}, {result['machine']}. `make soak`: {result['users']} users in chats of "
        f"{CHAT_SIZE}, each subscribed and sending about once a second for "
        f"{result['seconds']:.0f} s;"
        f" a random process (nginx, auth, chat, a gateway, Redis) killed with SIGKILL every "
        f"{result['kill_every_seconds']:.0f} s.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| messages accepted | {result['accepted']} |",
        f"| deliveries expected (accepted x members) | {result['expected_deliveries']} |",
        f"| delivered | {result['delivered']} |",
        f"| lost | **{result['lost']}** |",
        f"| duplicated | **{result['duplicated']}** |",
        f"| send retries (answer lost or refused) | {result['send_retries']} |",
        f"| send latency p50 / p99 (first try to accepted) | "
        f"{result['send_latency_ms']['p50']} / {result['send_latency_ms']['p99']} ms |",
        f"| delivery latency p50 / p99 (first try to received) | "
        f"{result['delivery_latency_ms']['p50']} / {result['delivery_latency_ms']['p99']} ms |",
        f"| subscriber reconnects | {result['reconnects']} |",
        f"| processes restarted by `mychat stack` | {result['restarts']} |",
        "",
        "Failures the senders saw before a retry succeeded: "
        + (", ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or "none"),
        "",
        "| process | memory at start (MiB) | at end (MiB) | same process at the end |",
        "|---|---|---|---|",
    ]
    for role in ("nginx", "auth", "chat", "gateway-1", "gateway-2"):
        start = result["memory_mib_start"].get(role, "-")
        end = result["memory_mib_end"].get(role, "-")
        same = "no (killed, restarted)" if role in result["restarted_during_run"] else "yes"
        lines.append(f"| {role} | {start} | {end} | {same} |")
    lines += [
        "",
        "nginx's figure is its master and workers together. Each role's process that was "
        "watched longest (sampled every 2 s from its tenth second on):",
        "",
        "| process | watched (s) | memory when first seen (MiB) | when last seen (MiB) |",
        "|---|---|---|---|",
        *(
            f"| {role} | {s['seconds']} | {s['first_mib']} | {s['last_mib']} |"
            for role, s in sorted(result["memory_mib_longest_lived"].items())
        ),
        "",
        "Chaos:",
        "",
        *(f"    {line}" for line in result["chaos"]),
        "",
        f"Verdict: {'nothing lost, nothing duplicated' if ok else 'FAILED'}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between kills")
    parser.add_argument("--output", type=Path, default=RESULTS / "soak")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mychat-soak-") as folder:
        result = asyncio.run(soak(args.users, args.seconds, args.every, Path(folder)))
    args.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
