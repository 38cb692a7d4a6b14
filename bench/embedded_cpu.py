"""CPU per request of `mychat serve` and of the bare baselines: `python -m bench.embedded_cpu`.

The embedded scenario's figures are throughput ratios, which on this shared 2-core machine move
with everyone else's load. CPU seconds a server spends per answered request (utime + stime from
/proc, all its threads, under the same 32-connection load) move far less. This starts the same
processes as `bench.embedded` (`mychat serve all` on a fresh SQLite folder, bare Starlette, bare
Strawberry), seeds the same data, and prints, for REST history, GraphQL history and the web
app's chat list: microseconds of server CPU per request, ours and baseline, and their ratio
(baseline / ours: the throughput ratio a server bound by one core would reach).

`--rounds N` repeats the measurements; `--profile` also records ours with py-spy for each
figure (bench.profile's summaries; raw stacks in bench/results/profiles/embedded-*.txt).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench import baseline_graphql, documents
from bench.config import BenchConfig
from bench.embedded import (
    BARE_HISTORY_PATH,
    HISTORY_PAGE,
    graphql_target,
    history_chat_id,
    seeded_servers,
)
from bench.loadgen import LoadSpec, run_load
from bench.measure import Target, get_request
from bench.procs import Proc, raise_fd_limit
from bench.web_operations import sent

WARMUP_SECONDS = 1.0


@dataclass
class Measured:
    requests: int
    cpu_seconds: float

    @property
    def us_per_request(self) -> float:
        return 1e6 * self.cpu_seconds / max(1, self.requests)


def cpu_per_request(proc: Proc, target: Target, seconds: float, concurrency: int) -> Measured:
    """Server CPU over a load of `seconds` with no warm-up of its own (every request counts)."""

    def spec(duration: float) -> LoadSpec:
        return LoadSpec(
            port=target.port,
            requests=target.requests,
            concurrency=concurrency,
            warmup_seconds=0.0,
            duration_seconds=duration,
            expect_in_body=target.expect_in_body,
            reject_in_body=target.reject_in_body,
        )

    run_load(spec(WARMUP_SECONDS))
    before = proc.cpu_seconds()
    result = run_load(spec(seconds))
    spent = proc.cpu_seconds() - before
    if result.errors:
        raise RuntimeError(f"{result.errors} errors: {result.first_error}")
    return Measured(result.requests, spent)


def profiled(proc: Proc, label: str, seconds: float, drive: Callable[[], Measured]) -> Measured:
    from bench.profile import PROFILE_DIR, record, summarise

    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    output = PROFILE_DIR / f"embedded-{label}.txt"
    found: list[Measured] = []
    driver = threading.Thread(target=lambda: found.append(drive()))
    driver.start()
    time.sleep(WARMUP_SECONDS + 1.0)
    recorder = record(proc.pid, max(1.0, seconds - 2.0), output)
    recorder.communicate(timeout=seconds + 60)
    driver.join()
    print(f"\n## {label}\n\n{summarise(output, top=30)}\n", flush=True)
    return found[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=BenchConfig().http_concurrency)
    parser.add_argument("--only", choices=["rest", "history", "list"], action="append")
    parser.add_argument("--profile", action="store_true", help="py-spy ours (no baselines)")
    args = parser.parse_args()
    raise_fd_limit()
    with seeded_servers("embedded-cpu") as servers:
        server, port, seeded = servers.ours, servers.port, servers.seeded
        bare_rest, bare_graphql = servers.bare_rest, servers.bare_graphql
        chat_gid = history_chat_id(port, seeded.token)
        history_path = f"/mychat/api/chat/{seeded.chat_id}?limit={HISTORY_PAGE}"
        size: dict[str, object] = {"first": baseline_graphql.CHAT_LIST_SIZE}
        plans: dict[str, tuple[Target, Proc, Target]] = {
            "rest": (
                Target(port, [get_request(history_path, seeded.token)], '"text"'),
                bare_rest,
                Target(servers.rest_port, [get_request(BARE_HISTORY_PATH)], '"text"'),
            ),
            "history": (
                graphql_target(documents.HISTORY, {"chatId": chat_gid}, seeded.token),
                bare_graphql,
                graphql_target(documents.HISTORY, {"chatId": "Q2hhdDox"}, None),
            ),
            "list": (
                graphql_target(sent("CHATS"), size, seeded.token),
                bare_graphql,
                graphql_target(sent("CHATS"), size, None),
            ),
        }
        for ours, _, base in plans.values():
            if ours.port == 0:
                ours.port = port
            if base.port == 0:
                base.port = servers.graphql_port
        names = args.only or list(plans)
        print("us of server CPU per request (32 connections); ratio = baseline / ours")
        for round_ in range(args.rounds):
            for name in names:
                ours, base_proc, base = plans[name]

                def drive(target: Target = ours) -> Measured:
                    return cpu_per_request(server, target, args.seconds, args.concurrency)

                if args.profile:
                    mine = profiled(server, name, args.seconds, drive)
                    print(f"round {round_ + 1} {name:8} ours {mine.us_per_request:8.0f} us")
                    continue
                mine = drive()
                theirs = cpu_per_request(base_proc, base, args.seconds, args.concurrency)
                ratio = theirs.us_per_request / mine.us_per_request
                print(
                    f"round {round_ + 1} {name:8} ours {mine.us_per_request:8.0f} us "
                    f"({mine.requests} req)  baseline {theirs.us_per_request:8.0f} us "
                    f"({theirs.requests} req)  ratio {ratio:5.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
