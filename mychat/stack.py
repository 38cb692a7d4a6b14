"""`mychat stack`: the production topology as local processes, without Docker.

nginx (rendered from the repository's nginx.conf) in front of auth_service, chat_service and N
gateway processes, all on MariaDB and Redis, each on a free port.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from mychat.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "nginx.conf"
INIT_SQL = ROOT / "db" / "init.sql"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PORT = 8088
LOCALHOST = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0  # uvicorn's graceful shutdown is 10 s
# A line of nginx.conf that the stack replaces: `<directive>;  # stack:<name>`.
NGINX_MARKER = re.compile(r"^(?P<indent>\s*)\S.*;\s*#\s*stack:(?P<name>[a-z_]+)\s*$")
DATABASE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class StackError(RuntimeError):
    """The stack cannot start or a process in it failed."""


# --- nginx.conf rendering ---------------------------------------------------------------------


def render_nginx_conf(template: str, values: Mapping[str, Sequence[str]]) -> str:
    """Replace every `# stack:<name>` line by the directives given for <name>.

    Every marker needs a value and every value a marker, so the file and the stack cannot drift.
    """
    rendered: list[str] = []
    seen: set[str] = set()
    for line in template.splitlines():
        match = NGINX_MARKER.match(line)
        if match is None:
            rendered.append(line)
            continue
        name = match["name"]
        if name not in values:
            raise StackError(f"nginx.conf marker stack:{name} has no value")
        seen.add(name)
        rendered.extend(match["indent"] + directive for directive in values[name])
    unused = set(values) - seen
    if unused:
        raise StackError(f"nginx.conf lacks the markers {sorted(unused)}")
    return "\n".join(rendered) + "\n"


def local_nginx_values(
    prefix: Path,
    *,
    port: int,
    auth_port: int,
    chat_port: int,
    gateway_ports: Sequence[int],
    web_root: Path,
) -> dict[str, list[str]]:
    """The local replacements: loopback ports, and every writable path inside `prefix`."""
    temp = prefix / "temp"
    user = [] if os.geteuid() != 0 else ["user root;"]  # root: workers must read the temp dir
    return {
        "user": user,
        "pid": [f"pid {prefix / 'nginx.pid'};"],
        "error_log": [f"error_log {prefix / 'error.log'} warn;"],
        "access_log": [f"access_log {prefix / 'access.log'} mychat;"],
        **{
            f"{kind}_temp_path": [f"{kind}_temp_path {temp / kind};"]
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        },
        "auth_servers": [f"server {LOCALHOST}:{auth_port};"],
        "chat_servers": [f"server {LOCALHOST}:{chat_port};"],
        "gateway_servers": [
            f"server {LOCALHOST}:{p} max_fails=1 fail_timeout=5s;" for p in gateway_ports
        ],
        "listen": [f"listen {LOCALHOST}:{port};"],
        "root": [f"root {web_root};"],
    }


def nginx_command(prefix: Path, conf: Path, *args: str) -> list[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), *args]


def check_nginx_conf(prefix: Path, conf: Path) -> None:
    """`nginx -t` on a rendered file; raise with nginx's own words if it is refused."""
    result = subprocess.run(  # noqa: S603  # our own arguments, no shell
        nginx_command(prefix, conf, "-t", "-q"), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise StackError(f"nginx -t refused {conf}:\n{result.stderr.strip()}")


# --- database and Redis -----------------------------------------------------------------------


def init_sql_statements(path: Path = INIT_SQL) -> list[str]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


async def prepare_database(url: str) -> None:
    """Create the MySQL/MariaDB database and load db/init.sql into it if it has no tables."""
    parsed: URL = make_url(url)
    if parsed.get_backend_name() != "mysql":
        return  # SQLite: the services create their schema themselves
    name = _database_name(parsed)
    await _on_server(
        parsed,
        f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    )
    engine = create_async_engine(parsed)
    # MariaDB notes that it ignores constraint names on primary keys; not worth a warning.
    logging.getLogger("asyncmy").setLevel(logging.ERROR)
    try:
        async with engine.begin() as connection:
            tables = (await connection.execute(text("SHOW TABLES"))).all()
            if not tables:
                for statement in init_sql_statements():
                    await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def drop_database(url: str) -> None:
    """Drop the MySQL/MariaDB database of this URL if it exists (tests and benchmarks)."""
    parsed: URL = make_url(url)
    await _on_server(parsed, f"DROP DATABASE IF EXISTS `{_database_name(parsed)}`")


def _database_name(parsed: URL) -> str:
    """The URL's database name, checked before it goes into a statement (names are not bound)."""
    name = parsed.database or ""
    if not DATABASE_NAME.match(name):
        raise StackError(f"database name {name!r} must be letters, digits and underscores")
    return name


async def _on_server(parsed: URL, statement: str) -> None:
    """Run one statement on the URL's server, outside any database (CREATE/DROP DATABASE)."""
    server = create_async_engine(parsed.set(database=""), isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await server.dispose()


async def check_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=3)
    try:
        await client.ping()
    except Exception as error:  # any failure means the stack cannot work: say which
        raise StackError(f"Redis at {url} does not answer: {error}") from error
    finally:
        await client.aclose()


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ManagedProcess:
    """One child: started in its own process group so a terminal's Ctrl-C reaches only us."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    port: int
    ready_path: str
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603  # our own arguments, no shell
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> None:
        """Wait for the exit; SIGKILL after `timeout` seconds."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll the readiness URL until it answers 200; fail early if the process died."""
        url = f"http://{LOCALHOST}:{self.port}{self.ready_path}"
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    raise StackError(f"{self.name} exited while starting:\n{self.log_tail()}")
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise StackError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")


@dataclass(frozen=True)
class StackConfig:
    workdir: Path
    gateways: int = 2
    port: int = 0  # 0: a free port
    database_url: str | None = None
    redis_url: str = DEFAULT_REDIS_URL
    jwt_secret: str | None = None
    web_root: Path = ROOT / "web" / "dist"
    nginx_template: Path = NGINX_CONF
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def from_settings(cls, settings: Settings, workdir: Path, **overrides: object) -> StackConfig:
        """DATABASE_URL or MYSQL_* (MariaDB on localhost by default), REDIS_URL, JWT_SECRET."""
        if settings.database_url or settings.mysql_host:
            database_url = settings.sqlalchemy_url
        else:
            database_url = settings.model_copy(update={"mysql_host": LOCALHOST}).sqlalchemy_url
        values: dict[str, object] = {
            "workdir": workdir,
            "database_url": database_url,
            "redis_url": settings.redis_url or DEFAULT_REDIS_URL,
            "jwt_secret": settings.jwt_secret,
        }
        if settings.web_dist is not None:
            values["web_root"] = settings.web_dist
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]  # keys are the fields above


class Stack:
    """Start, watch, fault-inject and stop the topology's processes."""

    def __init__(self, config: StackConfig) -> None:
        if config.gateways < 1:
            raise StackError("a stack needs at least one gateway")
        self.config = config
        self.port = config.port or free_port()
        self.jwt_secret_generated = config.jwt_secret is None
        self._jwt_secret = config.jwt_secret or secrets.token_urlsafe(48)
        self._workdir = config.workdir.resolve()  # nginx wants absolute paths
        self._prefix = self._workdir / "nginx"
        self._logs = self._workdir / "logs"
        auth_port, chat_port = free_port(), free_port()
        gateway_ports = [free_port() for _ in range(config.gateways)]
        env = self._service_env(auth_port, chat_port)
        self.services: dict[str, ManagedProcess] = {
            "auth": self._service("auth", "auth", auth_port, env),
            "chat": self._service("chat", "chat", chat_port, env),
            **{
                f"gateway-{i}": self._service(f"gateway-{i}", "gateway", port, env)
                for i, port in enumerate(gateway_ports, start=1)
            },
        }
        self.nginx_conf_path = self._prefix / "nginx.conf"
        self.nginx = ManagedProcess(
            "nginx",
            nginx_command(self._prefix, self.nginx_conf_path, "-g", "daemon off;"),
            dict(config.base_env),
            self._logs / "nginx.log",
            self.port,
            "/healthz",
        )
        self._nginx_values = local_nginx_values(
            self._prefix,
            port=self.port,
            auth_port=auth_port,
            chat_port=chat_port,
            gateway_ports=gateway_ports,
            web_root=config.web_root,
        )

    @property
    def logs(self) -> Path:
        return self._logs

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def gateways(self) -> list[ManagedProcess]:
        return [p for name, p in self.services.items() if name.startswith("gateway-")]

    def _service_env(self, auth_port: int, chat_port: int) -> dict[str, str]:
        env = {k: v for k, v in self.config.base_env.items() if k != "MYCHAT_PORT"}
        origins = [f"http://{LOCALHOST}:{self.port}", f"http://localhost:{self.port}"]
        if env.get("MYCHAT_ALLOWED_ORIGINS"):
            origins.insert(0, env["MYCHAT_ALLOWED_ORIGINS"])
        env.update(
            {
                "JWT_SECRET": self._jwt_secret,
                "REDIS_URL": self.config.redis_url,
                "MYCHAT_AUTH_URL": f"http://{LOCALHOST}:{auth_port}",
                "MYCHAT_CHAT_URL": f"http://{LOCALHOST}:{chat_port}",
                "MYCHAT_DATA_DIR": str(self._workdir / "data"),
                "MYCHAT_ALLOWED_ORIGINS": ",".join(origins),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.config.database_url is not None:
            env["DATABASE_URL"] = self.config.database_url
        return env

    def _service(self, name: str, service: str, port: int, env: dict[str, str]) -> ManagedProcess:
        command = [sys.executable, "-m", "assembly.cli", "serve", service]
        command += ["--host", LOCALHOST, "--port", str(port)]
        return ManagedProcess(name, command, env, self._logs / f"{name}.log", port, "/readyz")

    def start(self) -> None:
        """Prepare the database, render nginx.conf, start everything, wait until all is ready."""
        for folder in (self._prefix / "temp", self._logs, self._workdir / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        asyncio.run(self._prepare_dependencies())
        self.nginx_conf_path.write_text(
            render_nginx_conf(self.config.nginx_template.read_text(), self._nginx_values)
        )
        check_nginx_conf(self._prefix, self.nginx_conf_path)
        try:
            for process in self.services.values():
                process.start()
            for process in self.services.values():
                process.wait_ready()
            self.nginx.start()
            self.nginx.wait_ready()
        except BaseException:
            self.stop()
            raise

    async def _prepare_dependencies(self) -> None:
        if self.config.database_url is not None:
            await prepare_database(self.config.database_url)
        await check_redis(self.config.redis_url)

    def kill(self, name: str) -> None:
        """SIGKILL one process (a crash: no goodbye to its clients)."""
        process = self._process(name)
        process.signal(signal.SIGKILL)
        process.wait(STOP_TIMEOUT)

    def stop_process(self, name: str) -> None:
        """SIGTERM one process and wait for its graceful exit."""
        process = self._process(name)
        process.signal(signal.SIGTERM)
        process.wait(STOP_TIMEOUT)

    def start_process(self, name: str) -> None:
        """Start a stopped process again on its port and wait until it is ready."""
        process = self._process(name)
        if process.running:
            raise StackError(f"{name} is running")
        process.start()
        process.wait_ready()

    def restart(self, name: str) -> None:
        self.stop_process(name)
        self.start_process(name)

    def _process(self, name: str) -> ManagedProcess:
        if name == "nginx":
            return self.nginx
        if name not in self.services:
            raise StackError(f"no process {name!r}; have {sorted(self.services)}")
        return self.services[name]

    def exited(self) -> list[ManagedProcess]:
        """Processes that were started and are no longer running."""
        everything = [self.nginx, *self.services.values()]
        return [p for p in everything if p.process is not None and not p.running]

    def stop(self) -> None:
        """SIGTERM every process at once (nginx first), wait, then SIGKILL what is left."""
        everything = [self.nginx, *self.services.values()]
        # nginx's SIGQUIT is its graceful stop (it honours worker_shutdown_timeout).
        self.nginx.signal(signal.SIGQUIT)
        for process in self.services.values():
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in everything:
            process.wait(max(0.0, deadline - time.monotonic()))


# --- the command ------------------------------------------------------------------------------


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
    stack = Stack(config)
    with _signals_raise_exit():
        try:
            print(f"mychat stack: starting nginx, auth, chat and {config.gateways} gateway(s)")
            if stack.jwt_secret_generated:
                print("mychat stack: no JWT_SECRET set; generated one for this run")
            stack.start()
            if not (config.web_root / "index.html").exists():
                print(f"mychat stack: {config.web_root} has no built web app; run `make web`")
            print(f"MyChat stack on {stack.url}/  (logs in {stack.logs})")
            print("Ctrl-C stops everything.", flush=True)
            while True:
                time.sleep(0.5)
                dead = stack.exited()
                if dead:
                    for process in dead:
                        print(f"mychat stack: {process.name} exited:\n{process.log_tail()}")
                    return 1
        except StackError as error:
            print(f"mychat stack: {error}", file=sys.stderr)
            return 1
        finally:
            # Further signals must not interrupt the cleanup half-way.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("mychat stack: stopping", flush=True)
            stack.stop()


def stack_command(gateways: int, port: int | None, workdir: Path | None) -> int:
    """`mychat stack`: settings from the environment, nginx on --port, NGINX_PORT or 8088."""
    settings = Settings()
    if port is None:
        port = int(os.environ.get("NGINX_PORT", DEFAULT_PORT))
    config = StackConfig.from_settings(
        settings, workdir or settings.data_dir / "stack", gateways=gateways, port=port
    )
    return run_stack(config)
