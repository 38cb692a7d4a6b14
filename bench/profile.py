"""Profile our server processes under the benchmark's load with py-spy (sampling, no changes).

`python -m bench.profile graphql|rest|fanout [--seconds 8]` starts the same stack as the
scenario, drives it with the same load and records each interesting process with
`py-spy record --format raw` (collapsed stacks). It prints the top frames by own time and by
inclusive time, and keeps the raw files in bench/results/profiles/ for flame graphs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench import documents
from bench.config import BenchConfig
from bench.graphql import _chat_global_id, _operation
from bench.loadgen import LoadResult
from bench.measure import describe, get_request, json_request, load
from bench.procs import raise_fd_limit
from bench.stack import Stack, mychat_stack, seed_chat_with_history

PROFILE_DIR = Path(__file__).resolve().parent / "results" / "profiles"
RATE = 250


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install -c requirements.lock -e '.[bench]'")
    return found


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            str(RATE),
            "--format",
            "raw",
            "--output",
            str(output),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


OUR_PACKAGES = ("gateway/", "chat_service/", "auth_service/", "mychat/")


def _package(frame: str) -> str:
    """Which package a frame's file belongs to: 'sqlalchemy', 'gateway', '(event loop)'..."""
    location = frame[frame.rfind("(") + 1 :]
    if location.startswith("<") or "/" not in location:
        return "(event loop, builtins)"
    if "python3.11/" in location and "site-packages" not in location:
        return "(stdlib) " + location.split("python3.11/")[-1].split("/")[0].split(".py")[0]
    return location.split("/")[0]


def summarise(raw: Path, top: int = 20) -> str:
    """Own time by package, then our own functions and all frames by inclusive time."""
    own: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        by_package[_package(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return "no samples"

    def share(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    ours = [(f, n) for f, n in inclusive.most_common() if f.split("(")[-1].startswith(OUR_PACKAGES)]
    lines = [f"{total} samples at {RATE} Hz", "", "Own time by package:", ""]
    lines += [f"- {share(n)} {package}" for package, n in by_package.most_common(12)]
    lines += ["", "Our functions, inclusive time:", ""]
    lines += [f"- {share(n)} {frame}" for frame, n in ours[:top]]
    lines += ["", "Hottest frames, own time:", ""]
    lines += [f"- {share(n)} {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module path:line)" without site-packages.
    frame = frame.replace(str(Path(sys.prefix)) + "/lib/python3.11/site-packages/", "")
    return frame.replace(str(Path(__file__).resolve().parent.parent) + "/", "")


def profile_under_load(
    stack: Stack, names: list[str], drive: Callable[[], LoadResult], seconds: float, label: str
) -> None:
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    outputs = {name: PROFILE_DIR / f"{label}-{name}.txt" for name in names}
    result: list[LoadResult] = []
    driver = threading.Thread(target=lambda: result.append(drive()))
    driver.start()
    time.sleep(1.0)  # past the load generator's start-up, into its warm-up
    recorders = [record(stack.procs[name].pid, seconds, out) for name, out in outputs.items()]
    for recorder in recorders:
        _, err = recorder.communicate(timeout=seconds + 60)
        if recorder.returncode != 0:
            print(err.decode()[-500:], file=sys.stderr)
    driver.join()
    if result:
        print(describe(label, result[0]))
    for name, out in outputs.items():
        if out.exists():
            print(f"\n## {label}: {name}\n")
            print(summarise(out))


def profile_fanout(seconds: float) -> None:
    """Record both gateways while the fan-out scenario (100 subscribers) delivers."""
    from bench import fanout

    config = replace(
        BenchConfig.quick(), fanout_messages=40, fanout_interval_seconds=0.2, fanout_burst=40
    )
    recorders: list[subprocess.Popen[bytes]] = []
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)

    def attach(running: Stack) -> None:
        pids = {n: p.pid for n, p in running.procs.items() if n.startswith("gateway")}

        def start_later() -> None:
            time.sleep(15)  # past seeding and subscribing, into the paced phase
            for name, pid in pids.items():
                recorders.append(record(pid, seconds, PROFILE_DIR / f"fanout-{name}.txt"))

        threading.Thread(target=start_later, daemon=True).start()

    run = fanout.run_ours(config, on_start=attach)
    for recorder in recorders:
        recorder.wait(timeout=seconds + 60)
    fanout.print_run(run, "ours")
    for path in sorted(PROFILE_DIR.glob("fanout-gateway*.txt")):
        print(f"\n## fanout: {path.stem}\n")
        print(summarise(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "target",
        choices=["graphql-history", "graphql-me", "rest-history", "rest-send", "login", "fanout"],
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    raise_fd_limit()
    config = BenchConfig(warmup_seconds=1.0, duration_seconds=args.seconds + 3)
    target: str = args.target
    if target == "fanout":
        profile_fanout(args.seconds)
        return
    with mychat_stack(f"profile-{target}", with_gateway=target.startswith("graphql")) as stack:
        seeded = seed_chat_with_history(stack)
        if target.startswith("graphql"):
            chat_gid = _chat_global_id(stack.gateway_url(), seeded.token, "history")
            document = documents.HISTORY if target == "graphql-history" else documents.ME
            request = _operation(
                document, {"chatId": chat_gid} if "history" in target else {}, seeded.token
            )
            port = stack.gateway_ports[0]
            names = ["gateway0", "chat", "auth"]
        elif target == "rest-history":
            request = get_request(f"/mychat/api/chat/{seeded.chat_id}?limit=50", seeded.token)
            port, names = stack.chat_port, ["chat"]
        elif target == "rest-send":
            request = json_request(
                f"/mychat/api/chat/{seeded.send_chat_id}/message", {"text": "hi"}, seeded.token
            )
            port, names = stack.chat_port, ["chat"]
        else:
            request = json_request(
                "/mychat/api/auth/login", {"login": "bench", "password": "bench-password-1234"}
            )
            port, names = stack.auth_port, ["auth"]
        profile_under_load(
            stack, names, lambda: load(config, port, [request]), args.seconds, target
        )


if __name__ == "__main__":
    main()
