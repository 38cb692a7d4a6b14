"""Instructions per request of chat_service behind the REST routes, under callgrind.

`python -m bench.rest_instructions` starts the processes of `bench rest` (auth and chat under
uvicorn on a fresh MariaDB database, a private Redis) with the chat process under
`valgrind --tool=callgrind --instr-atstart=no`, seeds the same data, and for each figure sends
exactly `--requests` requests at `--concurrency` in flight, counting the chat process's
instructions over them alone (`callgrind_control --zero` before, `--dump` after; every thread).
Instruction counts do not move with the machine's load as CPU seconds do.

A send's figure depends on how many sends share a group commit: under callgrind the server is
~50x slower, so with 32 in flight the groups are full; `--concurrency 1` gives a group of one.

Like bench.rest_cpu it uses only APIs older trees have too (run it with an old tree first on
PYTHONPATH for an A/B). `--keep DIR` keeps the callgrind output files (callgrind_annotate).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

import bench.procs
import bench.stack
from bench.procs import Proc, free_port, raise_fd_limit
from bench.stack import empty_chats, mychat_stack, seed_chat_with_history

HISTORY_PAGE = 50
SPREAD_CHATS = 32
IDLE_SECONDS = 5.0
TOTALS = re.compile(rb"^(?:totals|summary): (\d+)", re.MULTILINE)


def _callgrind_server(out_dir: Path, without: list[str]) -> Any:
    plain: Callable[..., Proc] = vars(bench.stack)["uvicorn_server"]

    def server(name: str, target: str, *, env: dict[str, str] | None = None) -> Proc:
        if target != "mychat:chat":
            return plain(name, target, env=env)
        env = {key: value for key, value in (env or {}).items() if key not in without}
        port = free_port()
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        argv += [f"--callgrind-out-file={out_dir}/callgrind.out.%p"]
        argv += [sys.executable, "-m", "bench.serve", target, "--port", str(port)]
        return Proc(name, argv, env=env, port=port)

    return server


@contextmanager
def patched_stack(out_dir: Path, without: list[str]) -> Iterator[None]:
    """bench.stack's processes, the chat process under callgrind (replaced by name, so that
    older trees' bench.stack, which this must run against too, need no hook of their own)."""
    stack, procs = vars(bench.stack), vars(bench.procs)
    saved = stack["uvicorn_server"], procs["START_TIMEOUT_SECONDS"]
    stack["uvicorn_server"] = _callgrind_server(out_dir, without)
    procs["START_TIMEOUT_SECONDS"] = 600.0  # Python starts ~50x slower under callgrind
    try:
        yield
    finally:
        stack["uvicorn_server"], procs["START_TIMEOUT_SECONDS"] = saved


def control(pid: int, *flags: str) -> None:
    subprocess.run(["callgrind_control", *flags, str(pid)], check=True, capture_output=True)


def dumped_instructions(out_dir: Path, before: set[Path]) -> int:
    """Instructions in the dump files written since `before` (one per thread or part)."""
    total = 0
    for _ in range(100):
        new = set(out_dir.glob("callgrind.out.*")) - before
        if new:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    for path in new:
        found = TOTALS.search(path.read_bytes())
        if found:
            total += int(found.group(1))
    return total


async def drive(
    base_url: str, requests: list[tuple[str, str, Any]], token: str, total: int, concurrency: int
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=600
    ) as client:
        counter = iter(range(total))

        async def worker() -> None:
            for number in counter:
                method, path, body = requests[number % len(requests)]
                response = await client.request(method, path, json=body)
                response.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--only", choices=["history", "send", "spread"], action="append")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files here")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        help="an environment variable the chat "
        "process does not get (e.g. MYCHAT_METRICS_PORT: no metrics)",
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    raise_fd_limit()
    concurrencies = args.concurrency or [32, 1]
    out_dir = args.keep or Path(tempfile.mkdtemp(prefix="rest-callgrind-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    with patched_stack(out_dir, args.without), mychat_stack("rest-cg", with_gateway=False) as stack:
        pid = stack.procs["chat"].pid
        control(pid, "--instr=on")
        seeded = seed_chat_with_history(stack, HISTORY_PAGE)
        spread_ids = empty_chats(stack, seeded.token, SPREAD_CHATS, timeout=600)
        body = {"text": "hello from the benchmark"}
        plans: dict[str, list[tuple[str, str, Any]]] = {
            "history": [("GET", f"/mychat/api/chat/{seeded.chat_id}?limit=50", None)],
            "send": [("POST", f"/mychat/api/chat/{seeded.send_chat_id}/message", body)],
            "spread": [("POST", f"/mychat/api/chat/{c}/message", body) for c in spread_ids],
        }
        print("instructions of chat_service per request (callgrind)", flush=True)
        before = set(out_dir.glob("callgrind.out.*"))
        control(pid, "--zero")
        time.sleep(IDLE_SECONDS)
        control(pid, "--dump")
        idle = dumped_instructions(out_dir, before)
        print(f"idle     {idle / IDLE_SECONDS / 1e6:7.3f} M/second", flush=True)
        for name in args.only or list(plans):
            for concurrency in concurrencies:
                warm = 3 * concurrency + 20  # the pool opens its connections
                asyncio.run(drive(stack.chat_url, plans[name], seeded.token, warm, concurrency))
                before = set(out_dir.glob("callgrind.out.*"))
                control(pid, "--zero")
                asyncio.run(
                    drive(stack.chat_url, plans[name], seeded.token, args.requests, concurrency)
                )
                control(pid, "--dump")
                total = dumped_instructions(out_dir, before)
                print(
                    f"{name:8} c={concurrency:<3} {total / args.requests / 1e6:7.3f} M/request "
                    f"({args.requests} requests)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
