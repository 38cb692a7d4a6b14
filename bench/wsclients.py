"""WebSocket subscribers in a child process: `python -m bench.wsclients` (JSON spec on stdin).

Each connection subscribes, either to our gateway (graphql-transport-ws, token in
connection_init, `messageAdded(chatId)`) or to the bare broadcast server (`subscribe`). Then:

1. prints `READY <n>` once every connection is subscribed (n = how many made it);
2. records every message it receives: the text carries `<seq> <monotonic ns at send>`, so the
   latency from send to delivery is `now - sent` (CLOCK_MONOTONIC is system-wide on Linux);
3. on a `stop` line on stdin, waits `grace_seconds` for stragglers, writes the received
   (seq, latency ms) pairs per connection and the errors as JSON to `output`, prints `DONE`.

The idle-connections scenario uses the same processes and simply sends nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.documents import MESSAGE_ADDED

OPEN_AT_ONCE = 50
HANDSHAKE_TIMEOUT = 60.0


@dataclass
class ClientSpec:
    mode: str  # "graphql" or "bare"
    urls: list[str]  # connection i uses urls[i % len(urls)]
    tokens: list[str]  # connection i uses tokens[i % len(tokens)] (graphql)
    chat_id: str
    count: int
    grace_seconds: float = 5.0
    # Connections not subscribed by then are given up (counted as failed), keeping runs bounded.
    open_budget_seconds: float = 150.0
    # Handshakes in flight at once in this process.
    open_at_once: int = OPEN_AT_ONCE
    # Offer permessage-deflate as browsers do ("deflate"), or not (None).
    compression: str | None = "deflate"
    # graphql: subscribe from this message id (catch-up, no gap), as the web app does.
    after: str | None = None
    # Where the JSON result goes (a pipe is not trusted with megabytes from an event loop).
    output: str = ""


@dataclass
class Received:
    seqs: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    # The server ended or failed the subscription (error, complete, errors, close) before stop.
    ended: bool = False


class Subscribers:
    def __init__(self, spec: ClientSpec) -> None:
        self.spec = spec
        self.connections: list[ClientConnection] = []
        self.received: list[Received] = []
        self.errors: list[str] = []
        self.receivers: list[asyncio.Task[None]] = []

    async def open_one(self, index: int, gate: asyncio.Semaphore) -> None:
        spec = self.spec
        url = spec.urls[index % len(spec.urls)]
        async with gate:
            try:
                if spec.mode == "graphql":
                    ws = await self._open_graphql(url, spec.tokens[index % len(spec.tokens)])
                else:
                    ws = await self._open_bare(url)
            except (OSError, ConnectionClosed, TimeoutError, RuntimeError) as error:
                self.errors.append(f"connection {index}: {type(error).__name__}: {error}")
                return
        received = Received()
        self.connections.append(ws)
        self.received.append(received)
        self.receivers.append(asyncio.create_task(self.receive(ws, received)))

    async def _open_graphql(self, url: str, token: str) -> ClientConnection:
        ws = await connect(
            url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]  # a Subprotocol str
            origin="http://localhost",  # type: ignore[arg-type]  # an Origin str
            open_timeout=HANDSHAKE_TIMEOUT,
            ping_interval=None,
            max_queue=None,
            compression=self.spec.compression,
        )
        await ws.send(
            orjson.dumps({"type": "connection_init", "payload": {"authorization": token}}).decode()
        )
        ack = orjson.loads(await asyncio.wait_for(ws.recv(), HANDSHAKE_TIMEOUT))
        if ack.get("type") != "connection_ack":
            await ws.close()
            raise RuntimeError(f"no connection_ack: {ack}")
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": MESSAGE_ADDED,
                "variables": {"chatId": self.spec.chat_id, "after": self.spec.after},
            },
        }
        await ws.send(orjson.dumps(subscribe).decode())
        return ws

    async def _open_bare(self, url: str) -> ClientConnection:
        ws = await connect(
            url,
            open_timeout=HANDSHAKE_TIMEOUT,
            ping_interval=None,
            max_queue=None,
            compression=self.spec.compression,
        )
        await ws.send("subscribe")
        reply = await asyncio.wait_for(ws.recv(), HANDSHAKE_TIMEOUT)
        if reply != "subscribed":
            raise RuntimeError(f"unexpected reply {reply!r}")
        return ws

    async def receive(self, ws: ClientConnection, received: Received) -> None:
        graphql = self.spec.mode == "graphql"
        try:
            async for raw in ws:
                now = time.monotonic_ns()
                message = orjson.loads(raw)
                if graphql:
                    if message.get("type") != "next":
                        if message.get("type") in ("error", "complete"):
                            received.ended = True
                            self.errors.append(f"subscription ended: {str(message)[:300]}")
                        continue
                    payload = message["payload"]
                    if payload.get("errors"):
                        received.ended = True
                        self.errors.append(f"errors: {str(payload['errors'])[:300]}")
                        continue
                    text = payload["data"]["messageAdded"]["text"]
                else:
                    text = message["text"]
                seq, sent = _parse(text)
                if seq is None:
                    continue
                received.seqs.append(seq)
                received.latencies_ms.append((now - sent) / 1e6)
        except ConnectionClosed as error:
            received.ended = True
            self.errors.append(f"closed: {error}")

    async def warm(self, timeout: float) -> int:
        """Wait until every open subscription has received message 0; how many have."""
        deadline = time.monotonic() + timeout

        def warmed() -> int:
            return sum(1 for r in self.received if 0 in r.seqs)

        while time.monotonic() < deadline:
            if all(r.ended or 0 in r.seqs for r in self.received):
                break
            await asyncio.sleep(0.05)
        return warmed()

    async def run(self) -> dict[str, Any]:
        gate = asyncio.Semaphore(self.spec.open_at_once)
        opening = [asyncio.create_task(self.open_one(i, gate)) for i in range(self.spec.count)]
        _done, late = await asyncio.wait(opening, timeout=self.spec.open_budget_seconds)
        for task in late:
            task.cancel()
        if late:
            self.errors.append(f"{len(late)} connections not open within the time budget")
        print(f"READY {len(self.connections)}", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "stop":
                break
            if line.startswith("warm "):
                print(f"WARM {await self.warm(float(line.split()[1]))}", flush=True)
        await asyncio.sleep(self.spec.grace_seconds)
        for task in self.receivers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.connections), return_exceptions=True)
        return {
            "connections": len(self.connections),
            "received": [[r.seqs, [round(x, 3) for x in r.latencies_ms]] for r in self.received],
            "ended": [r.ended for r in self.received],
            "errors": self.errors[:20],
            "error_count": len(self.errors),
        }


def encode_text(seq: int) -> str:
    return f"bench {seq} {time.monotonic_ns()}"


def _parse(text: str) -> tuple[int | None, int]:
    parts = text.split()
    if len(parts) != 3 or parts[0] != "bench":
        return None, 0
    return int(parts[1]), int(parts[2])


def main() -> None:
    import uvloop

    from bench.procs import raise_fd_limit

    raise_fd_limit()
    spec = ClientSpec(**json.loads(sys.stdin.readline()))
    result = uvloop.run(Subscribers(spec).run())
    Path(spec.output).write_text(json.dumps(result))
    print("DONE", flush=True)


if __name__ == "__main__":
    main()


class ClientGroup:
    """Subscriber processes that share the connections, started and stopped together."""

    def __init__(self, specs: list[ClientSpec]) -> None:
        self.specs = specs
        self.processes: list[subprocess.Popen[str]] = []
        self.ready = 0

    def start(self, timeout: float) -> int:
        """Start every process; return how many connections are subscribed in total."""
        for index, spec in enumerate(self.specs):
            handle, spec.output = tempfile.mkstemp(prefix=f"bench-subscribers-{index}-")
            os.close(handle)
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.wsclients"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert process.stdin is not None
            process.stdin.write(json.dumps(asdict(spec)) + "\n")
            process.stdin.flush()
            self.processes.append(process)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            line = _readline(process, deadline - time.monotonic())
            if not line.startswith("READY "):
                raise RuntimeError(f"subscriber process said {line!r}")
            self.ready += int(line.split()[1])
        return self.ready

    def warm(self, timeout: float) -> int:
        """Ask every process to wait for message 0 everywhere; how many subscriptions got it."""
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"warm {timeout}\n")
            process.stdin.flush()
        deadline = time.monotonic() + timeout + 30
        warmed = 0
        for process in self.processes:
            line = _readline(process, deadline - time.monotonic())
            if not line.startswith("WARM "):
                raise RuntimeError(f"subscriber process said {line[:200]!r}")
            warmed += int(line.split()[1])
        return warmed

    def stop(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("stop\n")
            process.stdin.flush()
        results = []
        deadline = time.monotonic() + timeout
        for process, spec in zip(self.processes, self.specs, strict=True):
            line = _readline(process, deadline - time.monotonic())
            if line != "DONE":
                raise RuntimeError(f"subscriber process said {line[:200]!r}")
            output = Path(spec.output)
            results.append(json.loads(output.read_text()))
            output.unlink()
            process.wait(timeout=30)
        return results

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    """One stdout line, or RuntimeError if none comes within the timeout."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], max(0.0, timeout))
    if not ready:
        raise RuntimeError("subscriber process did not answer in time")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"subscriber process exited with {process.wait()}")
    return line.strip()
