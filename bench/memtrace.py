"""Where an idle subscription's memory goes: tracemalloc in an in-process gateway.

`python -m bench.memtrace [--connections 400] [--no-deflate]` runs auth and chat as processes
(fresh MariaDB database, private Redis), the gateway in this process under uvicorn with
tracemalloc on, opens N idle authenticated `messageAdded` subscriptions from a subscriber
process, and prints the allocation growth per connection by source line.
"""

from __future__ import annotations

import argparse
import gc
import os
import threading
import time
import tracemalloc

from bench.procs import free_port, raise_fd_limit
from bench.stack import (
    JWT_SECRET,
    add_members_with_tokens,
    mychat_stack,
    seed_chat_with_history,
)
from bench.wsclients import ClientGroup, ClientSpec

TOP = 25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--no-deflate", action="store_true", help="clients offer no compression")
    args = parser.parse_args()
    count: int = args.connections
    compression = None if args.no_deflate else "deflate"
    raise_fd_limit()
    with mychat_stack("memtrace", with_gateway=False) as stack:
        seeded = seed_chat_with_history(stack, messages=0)
        tokens = add_members_with_tokens(stack, seeded.chat_id, count)
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
        from gateway.ids import to_global_id
        from mychat.settings import Settings

        port = free_port()
        config = uvicorn.Config(
            app_for_service("gateway", Settings()),
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        time.sleep(3)
        chat_id = to_global_id("Chat", seeded.chat_id)
        url = f"ws://127.0.0.1:{port}/mychat/graphql"

        def subscribers(n: int) -> ClientGroup:
            spec = ClientSpec("graphql", [url], tokens[:n], chat_id, n, grace_seconds=0.0)
            spec.compression = compression
            return ClientGroup([spec])

        warm = subscribers(10)  # first-use allocations (imports, caches) before the baseline
        warm.start(60)
        warm.stop()
        gc.collect()
        tracemalloc.start(10)
        before = tracemalloc.take_snapshot()
        group = subscribers(count)
        try:
            opened = group.start(300)
            time.sleep(3)
            gc.collect()
            after = tracemalloc.take_snapshot()
            by_line = after.compare_to(before, "lineno")
            total = sum(stat.size_diff for stat in by_line)
            print(f"{opened} subscriptions, compression {compression}")
            print(f"traced growth: {total / opened / 1024:.1f} KiB per connection\n")
            for stat in by_line[:TOP]:
                frame = stat.traceback[0]
                where = frame.filename.split("site-packages/")[-1]
                print(
                    f"{stat.size_diff / opened:8.0f} B/conn {stat.count_diff / opened:6.1f} "
                    f"objects/conn  {where}:{frame.lineno}"
                )
            group.stop()
        finally:
            group.kill()
            server.should_exit = True
            thread.join(10)


if __name__ == "__main__":
    main()
