"""Where an idle subscription's memory goes: tracemalloc in an in-process gateway.

`python -m bench.memtrace [--connections 400] [--chat-events] [--group-by owner]` runs auth
and chat as processes (fresh MariaDB database, private Redis), the gateway in this process under
uvicorn with tracemalloc on (permessage-deflate off, as `mychat serve` has it; the bench
stack's settings, so no handshake is refused), opens N idle authenticated subscriptions from a
subscriber process (`messageAdded`, or the web app's `chatEvents` document), and prints the
allocation growth per connection by source line, then by package.

`--group-by owner` (the default) charges each allocation to its innermost frame outside the
standard library (an `asyncio.Event` made by uvicorn is uvicorn's); `lineno` to the innermost
frame whatever it is.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sysconfig
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from bench.connections import chat_events_viewers
from bench.procs import free_port, raise_fd_limit
from bench.serve import UVICORN_SETTINGS
from bench.stack import (
    add_members_with_tokens,
    mychat_stack,
    seed_chat_with_history,
    service_env,
)
from bench.web_operations import sent
from bench.wsclients import ClientGroup, ClientSpec
from gateway.ids import to_global_id

TOP = 90
# Subscriptions opened (by other users) before the baseline snapshot: first-use allocations.
WARM = 10
# Frames kept per allocation: enough to climb out of asyncio and contextlib to their caller.
FRAMES = 25
STDLIB = sysconfig.get_paths()["stdlib"]
# Summary buckets: the first of these found in a frame's path names its package.
PACKAGES = (
    "uvicorn",
    "websockets",
    "starlette",
    "strawberry",
    "graphql",
    "aiohttp",
    "redis",
    "gateway",
    "mychat",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--no-deflate", action="store_true", help="clients offer no compression")
    parser.add_argument(
        "--chat-events",
        action="store_true",
        help="the web app's chatEvents document (viewers in chats of 50), not messageAdded",
    )
    parser.add_argument(
        "--group-by",
        choices=["owner", "lineno", "filename", "traceback"],
        default="owner",
        help="tracemalloc key",
    )
    parser.add_argument("--top", type=int, default=TOP, help="lines printed")
    args = parser.parse_args()
    count: int = args.connections
    compression = None if args.no_deflate else "deflate"
    raise_fd_limit()
    with (
        mychat_stack("memtrace", with_gateway=False) as stack,
        tempfile.TemporaryDirectory(prefix="mychat-memtrace-") as data_dir,
    ):
        if args.chat_events:
            tokens = chat_events_viewers(stack, count + WARM)
            chat_id = ""
        else:
            seeded = seed_chat_with_history(stack, messages=0)
            tokens = add_members_with_tokens(stack, seeded.chat_id, count + WARM)
            chat_id = to_global_id("Chat", seeded.chat_id)
        os.environ.update(
            {
                **service_env(stack.database_url, stack.redis_url, Path(data_dir)),
                "MYCHAT_AUTH_URL": stack.auth_url,
                "MYCHAT_CHAT_URL": stack.chat_url,
                "MYCHAT_LOG_LEVEL": "warning",
            }
        )
        import uvicorn

        from assembly.app_factory import app_for_service
        from mychat.settings import Settings

        port = free_port()
        settings = {key: value for key, value in UVICORN_SETTINGS.items() if key != "workers"}
        # bench.serve's settings, as every benchmark's server (and `mychat serve`'s WebSocket).
        config = uvicorn.Config(
            app_for_service("gateway", Settings()), host="127.0.0.1", port=port, **settings
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        time.sleep(3)
        url = f"ws://127.0.0.1:{port}/mychat/graphql"

        def subscribers(chosen: list[str]) -> ClientGroup:
            spec = ClientSpec("graphql", [url], chosen, chat_id, len(chosen), grace_seconds=0.0)
            spec.compression = compression
            if args.chat_events:
                spec.document, spec.variables = sent("CHAT_EVENTS"), {"after": None}
            return ClientGroup([spec])

        warm = subscribers(tokens[-WARM:])
        warm.start(60)
        warm.stop()
        gc.collect()
        tracemalloc.start(FRAMES)
        before = tracemalloc.take_snapshot()
        group = subscribers(tokens[:count])
        try:
            opened = group.start(300)
            time.sleep(3)
            gc.collect()
            after = tracemalloc.take_snapshot()
            print(f"{opened} subscriptions, compression {compression}")
            if args.group_by == "owner":
                _print_owners(after.compare_to(before, "traceback"), opened, args.top)
            else:
                by_line = after.compare_to(before, args.group_by)
                total = sum(stat.size_diff for stat in by_line)
                print(f"traced growth: {total / opened / 1024:.1f} KiB per connection\n")
                for stat in by_line[: args.top]:
                    print(
                        f"{stat.size_diff / opened:8.0f} B/conn {stat.count_diff / opened:6.1f} "
                        f"objects/conn"
                    )
                    for frame in reversed(
                        stat.traceback[-10 if args.group_by == "traceback" else -1 :]
                    ):
                        print(f"        {_where(frame)}")
            _print_tasks(opened)
            group.stop()
        finally:
            group.kill()
            server.should_exit = True
            thread.join(10)


def _where(frame: tracemalloc.Frame) -> str:
    path = frame.filename.split("site-packages/")[-1].split("/work/")[-1]
    return f"{path}:{frame.lineno}"


def _owner(traceback: tracemalloc.Traceback) -> tracemalloc.Frame:
    """The innermost frame outside the standard library (the innermost of all if none is)."""
    for frame in reversed(traceback):  # most recent last
        if not frame.filename.startswith(STDLIB) and not frame.filename.startswith("<"):
            return frame
    return traceback[-1]


def _package(frame: tracemalloc.Frame) -> str:
    parts = frame.filename.split("site-packages/")[-1].split("/")
    for part in parts:
        if part in PACKAGES:
            return part
    return "other"


def _print_owners(stats: list[tracemalloc.StatisticDiff], opened: int, top: int) -> None:
    """Growth per connection by owning line (see `_owner`), then by package."""
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for stat in stats:
        owner = _owner(stat.traceback)
        sizes[_where(owner)] += stat.size_diff
        counts[_where(owner)] += stat.count_diff
        packages[_package(owner)] += stat.size_diff
    print(f"traced growth: {sum(sizes.values()) / opened / 1024:.1f} KiB per connection\n")
    for where, size in sizes.most_common(top):
        print(f"{size / opened:8.0f} B/conn {counts[where] / opened:6.1f} objects/conn  {where}")
    print("\nby package (owning frame):")
    for package, size in packages.most_common():
        print(f"{size / opened:8.0f} B/conn  {package}")


def _print_tasks(opened: int) -> None:
    """Live asyncio tasks per connection by coroutine (each holds its chain of frames)."""
    names = Counter(
        getattr(task.get_coro(), "__qualname__", "?")
        for task in gc.get_objects()
        if isinstance(task, asyncio.Task) and not task.done()
    )
    print(f"\nlive tasks: {sum(names.values()) / opened:.2f} per connection")
    for name, count in names.most_common(10):
        print(f"  {count / opened:6.2f}  {name}")


if __name__ == "__main__":
    main()
