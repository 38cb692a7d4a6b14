"""Run one benchmark target under uvicorn with the settings every target shares.

`python -m bench.serve mychat:chat --port 9000` runs our chat service (configured from the
environment like `mychat serve chat`); `bench-rest`, `bench-graphql` run the bare baselines.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mychat.ws_protocol import LeanHttpProtocol, LeanWebSocketProtocol

# The same for ours and every baseline: one worker, uvloop, httptools, no access log, and what
# `mychat serve` passes to uvicorn (proxy headers, a 64 KiB frame limit, no permessage-deflate,
# uvicorn's websockets-sansio protocol keeping less per socket and httptools' freed on an
# upgrade: mychat/ws_protocol.py; the baselines served here answer HTTP only). loop/http "auto"
# pick uvloop and httptools there.
UVICORN_SETTINGS: dict[str, Any] = {
    "workers": 1,
    "loop": "uvloop",
    "http": LeanHttpProtocol,  # httptools', freed on a WebSocket upgrade (`mychat serve`'s too)
    "ws": LeanWebSocketProtocol,
    "lifespan": "auto",
    "access_log": False,
    "log_level": "warning",
    "ws_max_size": 64 * 1024,
    "ws_per_message_deflate": False,
    "proxy_headers": True,
    "backlog": 8192,
    # As `mychat serve`: longer than the gateway keeps idle connections to the services (10 s);
    # uvicorn's default 5 s closes them under the gateway's feet ("Server disconnected").
    "timeout_keep_alive": 30,
}


def _ours(service: str) -> Callable[[], Any]:
    def build() -> Any:
        from assembly.app_factory import app_for_service
        from mychat.gc_tuning import tune_for_server
        from mychat.settings import Settings

        app = app_for_service(service, Settings())
        tune_for_server()  # as `mychat serve` does
        return app

    return build


def _bare_rest() -> Any:
    from bench.baseline_rest import create_app

    return create_app()


def _bare_graphql() -> Any:
    from bench.baseline_graphql import create_app

    return create_app()


TARGETS: dict[str, Callable[[], Any]] = {
    "mychat:all": _ours("all"),
    "mychat:auth": _ours("auth"),
    "mychat:chat": _ours("chat"),
    "mychat:gateway": _ours("gateway"),
    "bare-rest": _bare_rest,
    "bare-graphql": _bare_graphql,
}


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = TARGETS[args.target]()
    uvicorn.run(app, host="127.0.0.1", port=args.port, **UVICORN_SETTINGS)


if __name__ == "__main__":
    main()
