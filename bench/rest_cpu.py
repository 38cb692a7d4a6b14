"""CPU per request of chat_service behind the REST routes: `python -m bench.rest_cpu`.

`make bench`'s REST figures are throughput ratios against a bare baseline of the same run; on
this shared 2-core machine they move with everyone else's load. CPU seconds the chat process
spends per answered request (utime + stime from /proc, all its threads) move far less. This
starts the processes of `bench rest` (auth and chat under uvicorn on a fresh MariaDB database,
a private Redis), seeds the same data, and prints microseconds of chat_service CPU per request
for the history page of 50, a send to one chat and sends spread over 32 chats, each at the
bench's 32 connections and at 1 connection (a send alone is a group of one: no group commit
sharing its cost, so that figure does not depend on the load).

It uses only `bench.stack`, `bench.loadgen`, `bench.measure` and `bench.procs` APIs that also
exist in older trees, so an A/B against an old commit runs this file with that tree first on
`PYTHONPATH` (see bench/PROFILE.md). `--profile DIR` also records the chat process with py-spy
(raw collapsed stacks, one file per figure).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import HttpRequest, LoadSpec, run_load
from bench.measure import get_request, json_request
from bench.procs import Proc, raise_fd_limit
from bench.stack import empty_chats, mychat_stack, seed_chat_with_history

HISTORY_PAGE = 50
SPREAD_CHATS = 32
WARMUP_SECONDS = 1.0


@dataclass
class Measured:
    requests: int
    cpu_seconds: float
    seconds: float

    @property
    def us_per_request(self) -> float:
        return 1e6 * self.cpu_seconds / max(1, self.requests)


def measure(
    proc: Proc,
    port: int,
    requests: list[HttpRequest],
    expect: str,
    seconds: float,
    concurrency: int,
    profile: Path | None,
) -> Measured:
    def spec(duration: float) -> LoadSpec:
        return LoadSpec(
            port=port,
            requests=requests,
            concurrency=concurrency,
            warmup_seconds=0.0,
            duration_seconds=duration,
            expect_in_body=expect,
        )

    run_load(spec(WARMUP_SECONDS))
    recorder: subprocess.Popen[bytes] | None = None
    if profile is not None:
        argv = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(proc.pid)]
        argv += ["--format", "raw", "--rate", "250", "--nonblocking"]
        argv += ["--duration", str(max(1, int(seconds) - 1)), "--output", str(profile)]
        recorder = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    before, started = proc.cpu_seconds(), time.monotonic()
    result = run_load(spec(seconds))
    spent, elapsed = proc.cpu_seconds() - before, time.monotonic() - started
    if recorder is not None:
        recorder.wait(timeout=60)
    if result.errors:
        raise RuntimeError(f"{result.errors} errors: {result.first_error}")
    return Measured(result.requests, spent, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--only", choices=["history", "send", "spread"], action="append")
    parser.add_argument("--profile", type=Path, help="folder for py-spy's raw stacks")
    parser.add_argument("--label", default="", help="prefix of the profile files")
    args = parser.parse_args()
    raise_fd_limit()
    concurrencies = args.concurrency or [32, 1]
    with mychat_stack("rest-cpu", with_gateway=False) as stack:
        chat = stack.procs["chat"]
        seeded = seed_chat_with_history(stack, HISTORY_PAGE)
        spread_ids = empty_chats(stack, seeded.token, SPREAD_CHATS)
        body = {"text": "hello from the benchmark"}
        plans: dict[str, tuple[list[HttpRequest], str]] = {
            "history": (
                [get_request(f"/mychat/api/chat/{seeded.chat_id}?limit=50", seeded.token)],
                '"text"',
            ),
            "send": (
                [
                    json_request(
                        f"/mychat/api/chat/{seeded.send_chat_id}/message", body, seeded.token
                    )
                ],
                '"ok"',
            ),
            "spread": (
                [
                    json_request(f"/mychat/api/chat/{chat_id}/message", body, seeded.token)
                    for chat_id in spread_ids
                ],
                '"ok"',
            ),
        }
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
        print("us of chat_service CPU per request", flush=True)
        for round_ in range(args.rounds):
            for name in args.only or list(plans):
                for concurrency in concurrencies:
                    requests, expect = plans[name]
                    profile = None
                    if args.profile is not None:
                        profile = args.profile / f"{args.label}{name}-c{concurrency}.txt"
                    found = measure(
                        chat,
                        stack.chat_port,
                        requests,
                        expect,
                        args.seconds,
                        concurrency,
                        profile,
                    )
                    print(
                        f"round {round_ + 1} {name:8} c={concurrency:<3} "
                        f"{found.us_per_request:7.0f} us/request "
                        f"({found.requests} requests, {found.requests / found.seconds:6.0f}/s, "
                        f"chat CPU {found.cpu_seconds / found.seconds:4.2f} cores)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
