"""`mychat stack`: start the stack, keep it running, stop all of it on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from assembly.stack.errors import StackError
from assembly.stack.topology import Stack, StackConfig
from mychat.settings import Settings

DEFAULT_PORT = 8088
WATCH_INTERVAL = 0.25


def say(message: str) -> None:
    print(f"mychat stack: {message}", flush=True)


@contextmanager
def _signals_raise_exit() -> Iterator[None]:
    """SIGINT and SIGTERM end the stack through its `finally`, whatever it is doing."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def run_stack(config: StackConfig) -> int:
    """Start the stack, then restart whatever exits until Ctrl-C or SIGTERM stops it all."""
    stack = Stack(config)
    with _signals_raise_exit():
        try:
            say(f"starting nginx, auth, chat and {config.gateways} gateway(s)")
            if stack.jwt_secret_generated:
                say("no JWT_SECRET set; generated one for this run")
            stack.start()
            if not (config.web_root / "index.html").exists():
                say(f"{config.web_root} has no built web app; run `make web`")
            for name, url in stack.metrics_urls.items():
                say(f"{name} metrics on {url}")
            print(f"MyChat stack on {stack.url}/  (logs in {stack.logs})")
            print("Processes that exit are restarted. Ctrl-C stops everything.", flush=True)
            supervisor = stack.supervisor(say)
            try:
                while True:
                    time.sleep(WATCH_INTERVAL)
                    supervisor.tick()
            finally:
                supervisor.close()
        except StackError as error:
            print(f"mychat stack: {error}", file=sys.stderr)
            return 1
        finally:
            # Further signals must not interrupt the cleanup half-way.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            say("stopping")
            stack.stop()


def stack_command(
    gateways: int,
    port: int | None,
    workdir: Path | None,
    *,
    nginx_conf: Path | None = None,
    init_sql: Path | None = None,
    web_root: Path | None = None,
) -> int:
    """`mychat stack`: settings from the environment, nginx on --port, NGINX_PORT or 8088;
    nginx.conf, db/init.sql and web/dist from the command line, Settings, or the current folder."""
    settings = Settings()
    if port is None:
        port = int(os.environ.get("NGINX_PORT", DEFAULT_PORT))
    overrides: dict[str, object] = {"gateways": gateways, "port": port}
    for key, value in (
        ("nginx_template", nginx_conf),
        ("init_sql", init_sql),
        ("web_root", web_root),
    ):
        if value is not None:
            overrides[key] = value
    config = StackConfig.from_settings(
        settings, workdir or settings.data_dir / "stack", **overrides
    )
    return run_stack(config)
