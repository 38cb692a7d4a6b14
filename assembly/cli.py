"""The `mychat` command: serve the embedded app or one service, export the schema."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mychat.settings import ConfigurationError, Settings

SERVICES = ("all", "auth", "chat", "gateway")
DEFAULT_PORTS = {"all": 8080, "auth": 8001, "chat": 8002, "gateway": 8000}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mychat", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run MyChat (all in one process by default)")
    serve.add_argument("service", nargs="?", choices=SERVICES, default="all")
    serve.add_argument("--host", help="address to listen on (MYCHAT_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (MYCHAT_PORT)")
    serve.add_argument("--data-dir", type=Path, help="embedded data folder (MYCHAT_DATA_DIR)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    stack = commands.add_parser(
        "stack", help="run the topology locally: nginx, auth, chat and N gateways"
    )
    stack.add_argument("--gateways", type=int, default=2, help="gateway processes (default 2)")
    stack.add_argument("--port", type=int, help="nginx port (NGINX_PORT, default 8088)")
    stack.add_argument("--workdir", type=Path, help="logs and nginx files (<data dir>/stack)")
    stack.add_argument("--nginx-conf", type=Path, help="nginx.conf to render (MYCHAT_NGINX_CONF)")
    stack.add_argument("--init-sql", type=Path, help="schema for a new database (MYCHAT_INIT_SQL)")
    stack.add_argument("--web-root", type=Path, help="built web app (MYCHAT_WEB_DIST)")

    export = commands.add_parser("export-schema", help="write the GraphQL schema SDL")
    export.add_argument("--output", type=Path, default=Path("schema.graphql"))
    export.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from the code"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "stack":
        from assembly.stack import stack_command

        return stack_command(
            args.gateways,
            args.port,
            args.workdir,
            nginx_conf=args.nginx_conf,
            init_sql=args.init_sql,
            web_root=args.web_root,
        )
    if args.command == "export-schema":
        return _export_schema(args.output, check=args.check)
    return 2


def _settings_for(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    elif "MYCHAT_PORT" not in os.environ:
        overrides["port"] = DEFAULT_PORTS[args.service]
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    return Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings init kwargs


def _serve(args: argparse.Namespace) -> int:
    from assembly.app_factory import app_for_service
    from mychat.gc_tuning import tune_for_server
    from mychat.logs import configure_logging
    from mychat.serve_guard import ServeLimits, guarded_http
    from mychat.shutdown import run_gracefully
    from mychat.ws_protocol import LeanWebSocketProtocol

    settings = _settings_for(args)
    log_config = configure_logging(settings)
    try:
        app = app_for_service(args.service, settings)
    except ConfigurationError as error:
        print(f"mychat: {error}", file=sys.stderr)
        return 2
    tune_for_server()
    logging.getLogger("mychat").info(
        "MyChat (%s) on http://%s:%d/", args.service, settings.host, settings.port
    )
    # uvicorn.run, plus closing WebSockets with 1012 on SIGTERM (see mychat/shutdown.py).
    run_gracefully(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=log_config,  # uvicorn's lines in our format (MYCHAT_LOG_FORMAT)
        access_log=False,  # AccessLogMiddleware logs one line per request with its id
        proxy_headers=True,
        ws_max_size=64 * 1024,
        # Chat frames are small; per-connection zlib state costs ~39 KiB and CPU per frame.
        ws_per_message_deflate=False,
        ws=LeanWebSocketProtocol,  # uvicorn's, keeping less per idle socket
        timeout_graceful_shutdown=10,
        # Longer than the gateway keeps idle connections to the services (10 s).
        timeout_keep_alive=30,
        # Header size and time, connections in all and per address (mychat/serve_guard.py).
        http=guarded_http(ServeLimits.from_settings(settings)),
    )
    return 0


def _export_schema(output: Path, *, check: bool) -> int:
    from gateway.schema import build_schema

    sdl = build_schema().as_str().rstrip() + "\n"
    if check:
        current = output.read_text() if output.exists() else ""
        if current != sdl:
            print(f"{output} is stale: run `mychat export-schema`", file=sys.stderr)
            return 1
        return 0
    output.write_text(sdl)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
