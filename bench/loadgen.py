"""A closed-loop HTTP/1.1 load generator: fixed concurrency, warm-up, then a fixed duration.

It runs in its own process (`python -m bench.loadgen` reads a JSON spec on stdin and prints a
JSON result) so that it does not share an interpreter with the servers or the orchestrator.
Each of `concurrency` keep-alive connections sends pre-built requests back to back (round
robin over `requests`) and times each one; only requests started after the warm-up count.
A response counts as an error if its status differs from `expect_status` or its body lacks
`expect_in_body` or contains `reject_in_body` (GraphQL answers errors with status 200).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.stats import summary_ms

# Latency samples returned to the caller (evenly thinned beyond this), for merged percentiles.
MAX_SAMPLES = 20_000
TOOL = "bench.loadgen (asyncio + uvloop raw HTTP/1.1 keep-alive client)"


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    def encode(self, host: str, port: int) -> bytes:
        payload = self.body.encode() if self.body is not None else b""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body is not None or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(payload)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class LoadSpec:
    port: int
    requests: list[HttpRequest]
    concurrency: int = 32
    warmup_seconds: float = 1.0
    duration_seconds: float = 5.0
    host: str = "127.0.0.1"
    expect_status: int = 200
    expect_in_body: str | None = None
    reject_in_body: str | None = None


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    rps: float
    latency_ms: dict[str, float]
    concurrency: int
    duration_seconds: float
    warmup_seconds: float
    first_error: str | None = None
    tool: str = TOOL
    samples_ms: list[float] = field(default_factory=list)


class _Run:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.payloads = [r.encode(spec.host, spec.port) for r in spec.requests]
        self.latencies: list[int] = []
        self.errors = 0
        self.first_error: str | None = None
        self.expect = spec.expect_in_body.encode() if spec.expect_in_body else None
        self.reject = spec.reject_in_body.encode() if spec.reject_in_body else None

    def check(self, status: int, body: bytes) -> str | None:
        if status != self.spec.expect_status:
            return f"status {status}: {body[:300]!r}"
        if self.expect is not None and self.expect not in body:
            return f"missing {self.expect!r}: {body[:300]!r}"
        if self.reject is not None and self.reject in body:
            return f"has {self.reject!r}: {body[:300]!r}"
        return None

    async def connection(self, index: int, measure_from: int, end: int) -> None:
        reader, writer = await asyncio.open_connection(self.spec.host, self.spec.port)
        turn = index
        try:
            while True:
                started = time.perf_counter_ns()
                if started >= end:
                    return
                payload = self.payloads[turn % len(self.payloads)]
                turn += 1
                writer.write(payload)
                status, body, close = await _read_response(reader)
                finished = time.perf_counter_ns()
                if started >= measure_from:
                    problem = self.check(status, body)
                    if problem is None:
                        self.latencies.append(finished - started)
                    else:
                        self.errors += 1
                        self.first_error = self.first_error or problem
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(self.spec.host, self.spec.port)
        finally:
            writer.close()

    async def run(self) -> LoadResult:
        spec = self.spec
        now = time.perf_counter_ns()
        measure_from = now + int(spec.warmup_seconds * 1e9)
        end = measure_from + int(spec.duration_seconds * 1e9)
        await asyncio.gather(
            *(self.connection(i, measure_from, end) for i in range(spec.concurrency))
        )
        # Requests in flight at `end` finished a little later; the window is the duration.
        seconds = spec.duration_seconds
        latency = summary_ms(self.latencies)
        samples = [
            round(ns / 1e6, 3)
            for ns in self.latencies[:: max(1, len(self.latencies) // MAX_SAMPLES)]
        ]
        return LoadResult(
            requests=len(self.latencies),
            errors=self.errors,
            seconds=seconds,
            rps=len(self.latencies) / seconds,
            latency_ms=latency,
            concurrency=spec.concurrency,
            duration_seconds=spec.duration_seconds,
            warmup_seconds=spec.warmup_seconds,
            first_error=self.first_error,
            samples_ms=samples,
        )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length: int | None = None
    chunked = False
    close = False
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, b"".join(parts), close
    body = await reader.readexactly(length) if length else b""
    return status, body, close


def merge(results: list[LoadResult]) -> LoadResult:
    """One result from several rounds of the same load: counts add up, percentiles re-taken."""
    samples = [sample for result in results for sample in result.samples_ms]
    requests = sum(result.requests for result in results)
    seconds = sum(result.seconds for result in results)
    latency = summary_ms([int(ms * 1e6) for ms in samples])
    return LoadResult(
        requests=requests,
        errors=sum(result.errors for result in results),
        seconds=seconds,
        rps=requests / seconds if seconds else 0.0,
        latency_ms=latency,
        concurrency=results[0].concurrency,
        duration_seconds=seconds,
        warmup_seconds=results[0].warmup_seconds,
        first_error=next((r.first_error for r in results if r.first_error), None),
        samples_ms=samples,
    )


def spec_from_json(raw: dict[str, Any]) -> LoadSpec:
    requests = [HttpRequest(**r) for r in raw.pop("requests")]
    return LoadSpec(requests=requests, **raw)


def run_load(spec: LoadSpec) -> LoadResult:
    """Run the load generator in a child process and return its result."""
    timeout = spec.warmup_seconds + spec.duration_seconds + 60
    completed = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=json.dumps(asdict(spec)).encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed: {completed.stderr.decode()[-2000:]}")
    return LoadResult(**json.loads(completed.stdout))


def main() -> None:
    import uvloop

    spec = spec_from_json(json.load(sys.stdin))
    result = uvloop.run(_Run(spec).run())
    json.dump(asdict(result), sys.stdout)


if __name__ == "__main__":
    main()
