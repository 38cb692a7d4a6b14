"""WebSocket subscribers in a child process: `python -m bench.wsclients` (JSON spec on stdin).

Each connection subscribes, either to our gateway (graphql-transport-ws, token in
connection_init, `messageAdded(chatId)` or the web app's `chatEvents`) or to the bare
broadcast server (`subscribe`). Then:

1. prints `READY <n>` once every connection is subscribed (n = how many made it);
2. records every message it receives: the text carries `<seq> <monotonic ns at send>`, so the
   latency from send to delivery is `now - sent` (CLOCK_MONOTONIC is system-wide on Linux);
   a chatEvents viewer also keeps the chat's unreadCount of its last MessageAdded, counts the
   other events (signals such as MessagesRead) and, with `mark`, marks the chat read as the
   web app does (bench.viewer);
3. on `await <seq> <timeout>` waits until every open subscription has message <seq> and
   prints `HAVE <n>`; on `quiet`, stops marking read and prints `QUIET` when the marks in
   flight are answered;
4. on a `stop` line on stdin, waits `grace_seconds` for stragglers, writes the received
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
from bench.viewer import MarkReader, MarkSpec, MarkState, SocketMutations

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
    # graphql: the subscription document and its variables (default: messageAdded(chatId)).
    document: str = MESSAGE_ADDED
    variables: dict[str, Any] | None = None
    # graphql: each connection marks the chat read as the web app does (bench.viewer), over
    # its own socket; a dict (MarkSpec's fields) when given, as the spec travels as JSON.
    mark: dict[str, Any] | None = None
    # With `mark`: the chat's newest message when the viewer opens it, [id, databaseId]: marked
    # at once, as the web app marks a chat read when it opens (web/src/views/chatView.js).
    newest_at_open: list[Any] | None = None
    # Who connection i is in the results (its token's index, so the caller can ask about it).
    first_index: int = 0


@dataclass
class Received:
    seqs: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    # The server ended or failed the subscription (error, complete, errors, close) before stop.
    ended: bool = False
    index: int = 0
    # chatEvents: databaseId and chat.unreadCount of the last MessageAdded; other events.
    last_id: int = 0
    unread: int | None = None
    signals: int = 0
    marks: MarkState | None = None


class Subscribers:
    def __init__(self, spec: ClientSpec) -> None:
        self.spec = spec
        self.connections: list[ClientConnection] = []
        self.received: list[Received] = []
        self.errors: list[str] = []
        self.receivers: list[asyncio.Task[None]] = []
        self.readers: list[MarkReader] = []

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
        received = Received(index=spec.first_index + index)
        reader = None
        if spec.mark is not None:
            reader = MarkReader(SocketMutations(ws), MarkSpec(**spec.mark))
            received.marks = reader.state
            self.readers.append(reader)
        self.connections.append(ws)
        self.received.append(received)
        self.receivers.append(asyncio.create_task(self.receive(ws, received, reader)))
        if reader is not None and spec.newest_at_open is not None:
            message_id, database_id = spec.newest_at_open
            reader.message(message_id, database_id)

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
        variables = self.spec.variables
        if variables is None:
            variables = {"chatId": self.spec.chat_id, "after": self.spec.after}
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": self.spec.document, "variables": variables},
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

    async def receive(
        self, ws: ClientConnection, received: Received, reader: MarkReader | None
    ) -> None:
        try:
            async for raw in ws:
                now = time.monotonic_ns()
                message = orjson.loads(raw)
                if "text" in message:  # the bare broadcast's own frame
                    text = message["text"]
                else:
                    if reader is not None and reader.mutations.offer(message):
                        continue  # the answer to one of its marks
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
                    data = payload["data"]
                    if "messageAdded" in data:
                        text = data["messageAdded"]["text"]
                    else:
                        event = data["chatEvents"]
                        if event["__typename"] != "MessageAdded":
                            received.signals += 1
                            continue
                        added = event["message"]
                        text = added["text"]
                        if added["databaseId"] > received.last_id:
                            received.last_id = added["databaseId"]
                            received.unread = event["chat"]["unreadCount"]
                        if reader is not None:
                            reader.message(added["id"], added["databaseId"])
                seq, sent = _parse(text)
                if seq is None:
                    continue
                received.seqs.append(seq)
                received.latencies_ms.append((now - sent) / 1e6)
        except ConnectionClosed as error:
            received.ended = True
            self.errors.append(f"closed: {error}")

    async def wait_for(self, seq: int, timeout: float) -> int:
        """Wait until every open subscription has received message `seq`; how many have."""
        deadline = time.monotonic() + timeout

        def having() -> int:
            return sum(1 for r in self.received if seq in r.seqs)

        while time.monotonic() < deadline:
            if all(r.ended or seq in r.seqs for r in self.received):
                break
            await asyncio.sleep(0.05)
        return having()

    async def quiet(self) -> None:
        await asyncio.gather(*(reader.stop() for reader in self.readers))

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
            if line.startswith("await "):
                _, seq, timeout = line.split()
                print(f"HAVE {await self.wait_for(int(seq), float(timeout))}", flush=True)
            elif line.strip() == "quiet":
                await self.quiet()
                print("QUIET", flush=True)
        await self.quiet()
        await asyncio.sleep(self.spec.grace_seconds)
        for task in self.receivers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.connections), return_exceptions=True)
        return {
            "connections": len(self.connections),
            "received": [[r.seqs, [round(x, 3) for x in r.latencies_ms]] for r in self.received],
            "ended": [r.ended for r in self.received],
            "viewers": [
                {
                    "index": r.index,
                    "last_id": r.last_id,
                    "unread": r.unread,
                    "signals": r.signals,
                    "marks": None if r.marks is None else asdict(r.marks),
                }
                for r in self.received
            ],
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
        """Wait for message 0 everywhere; how many subscriptions got it."""
        return self.wait_for(0, timeout)

    def wait_for(self, seq: int, timeout: float) -> int:
        """Ask every process to wait for message `seq` everywhere; how many subscriptions got it."""
        answers = self._ask(f"await {seq} {timeout}", "HAVE ", timeout + 30)
        return sum(int(line.split()[1]) for line in answers)

    def quiet(self, timeout: float = 120.0) -> None:
        """Viewers stop marking read; returns once their marks in flight are answered."""
        self._ask("quiet", "QUIET", timeout)

    def _ask(self, command: str, answer: str, timeout: float) -> list[str]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(command + "\n")
            process.stdin.flush()
        deadline = time.monotonic() + timeout
        lines = []
        for process in self.processes:
            line = _readline(process, deadline - time.monotonic())
            if not line.startswith(answer):
                raise RuntimeError(f"subscriber process said {line[:200]!r}")
            lines.append(line)
        return lines

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
