"""Where an idle subscription's memory goes: tracemalloc in an in-process gateway.

`python -m bench.memtrace [--connections 400] [--chat-events] [--group-by filename]` runs auth
and chat as processes (fresh MariaDB database, private Redis), the gateway in this process under
uvicorn with tracemalloc on (permessage-deflate off, as `mychat serve` has it), opens N idle
authenticated subscriptions from a subscriber process (`messageAdded`, or the web app's
`chatEvents` document), and prints the allocation growth per connection by source line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import threading
import time
import tracemalloc
from collections import Counter

from bench.connections import chat_events_viewers
from bench.procs import free_port, raise_fd_limit
from bench.stack import (
    JWT_SECRET,
    add_members_with_tokens,
    mychat_stack,
    seed_chat_with_history,
)
from bench.web_operations import sent
from bench.wsclients import ClientGroup, ClientSpec
from gateway.ids import to_global_id

TOP = 90
# Subscriptions opened (by other users) before the baseline snapshot: first-use allocations.
WARM = 10


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
        choices=["lineno", "filename", "traceback"],
        default="lineno",
        help="tracemalloc key",
    )
    args = parser.parse_args()
    count: int = args.connections
    compression = None if args.no_deflate else "deflate"
    raise_fd_limit()
    with mychat_stack("memtrace", with_gateway=False) as stack:
        if args.chat_events:
            tokens = chat_events_viewers(stack, count + WARM)
            chat_id = ""
        else:
            seeded = seed_chat_with_history(stack, messages=0)
            tokens = add_members_with_tokens(stack, seeded.chat_id, count + WARM)
            chat_id = to_global_id("Chat", seeded.chat_id)
        os.environ.update(
            {
                "DATABASE_URL": stack.database_url,
                "REDIS_URL": stack.redis_url,
                "JWT_SECRET": JWT_SECRET,
                "MYCHAT_AUTH_URL": stack.auth_url,
                "MYCHAT_CHAT_URL": stack.chat_url,
                "MYCHAT_LOG_LEVEL": "warning",
            }
        )
        import uvicorn

        from assembly.app_factory import app_for_service
        from mychat.settings import Settings

        port = free_port()
        config = uvicorn.Config(
            app_for_service("gateway", Settings()),
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            ws_per_message_deflate=False,  # as assembly/cli.py serves
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
        tracemalloc.start(10)
        before = tracemalloc.take_snapshot()
        group = subscribers(tokens[:count])
        try:
            opened = group.start(300)
            time.sleep(3)
            gc.collect()
            after = tracemalloc.take_snapshot()
            by_line = after.compare_to(before, args.group_by)
            total = sum(stat.size_diff for stat in by_line)
            print(f"{opened} subscriptions, compression {compression}")
            print(f"traced growth: {total / opened / 1024:.1f} KiB per connection\n")
            for stat in by_line[:TOP]:
                print(
                    f"{stat.size_diff / opened:8.0f} B/conn {stat.count_diff / opened:6.1f} "
                    f"objects/conn"
                )
                for frame in stat.traceback[: 10 if args.group_by == "traceback" else 1]:
                    where = frame.filename.split("site-packages/")[-1].split("/work/")[-1]
                    print(f"        {where}:{frame.lineno}")
            _print_tasks(opened)
            group.stop()
        finally:
            group.kill()
            server.should_exit = True
            thread.join(10)


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
