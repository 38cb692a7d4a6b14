"""The stack: nginx, auth_service, chat_service and N gateways as local processes."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assembly.stack.databases import DEFAULT_INIT_SQL, prepare_database
from assembly.stack.errors import StackError
from assembly.stack.nginx import (
    LOCALHOST,
    check_nginx_conf,
    local_nginx_values,
    nginx_command,
    render_nginx_conf,
)
from assembly.stack.processes import ManagedProcess, PortPlan, free_port
from assembly.stack.redis import DEFAULT_REDIS_URL, check_redis
from assembly.stack.supervisor import RestartPolicy, Supervisor
from mychat.settings import Settings

STOP_TIMEOUT = 20.0  # as compose's stop_grace_period: see mychat/shutdown.py
# Relative to the current folder (the repository) unless the command line or Settings say.
DEFAULT_NGINX_CONF = Path("nginx.conf")
DEFAULT_WEB_ROOT = Path("web/dist")
# How often nginx gets a fresh port when another process bound the free one it was given.
PORT_ATTEMPTS = 3
PORT_TAKEN = "Address already in use"


@dataclass(frozen=True)
class StackConfig:
    workdir: Path
    gateways: int = 2
    port: int = 0  # 0: a free port
    database_url: str | None = None
    redis_url: str = DEFAULT_REDIS_URL
    jwt_secret: str | None = None
    web_root: Path = DEFAULT_WEB_ROOT
    nginx_template: Path = DEFAULT_NGINX_CONF
    init_sql: Path = DEFAULT_INIT_SQL
    metrics: bool = True  # each service serves /metrics on a loopback port of its own
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def from_settings(cls, settings: Settings, workdir: Path, **overrides: object) -> StackConfig:
        """DATABASE_URL or MYSQL_* (MariaDB on localhost by default), REDIS_URL, JWT_SECRET,
        and where nginx.conf, db/init.sql and the built web app are."""
        if settings.database_url or settings.mysql_host:
            database_url = settings.sqlalchemy_url
        else:
            database_url = settings.model_copy(update={"mysql_host": LOCALHOST}).sqlalchemy_url
        values: dict[str, object] = {
            "workdir": workdir,
            "database_url": database_url,
            "redis_url": settings.redis_url or DEFAULT_REDIS_URL,
            "jwt_secret": settings.jwt_secret,
            "nginx_template": settings.nginx_conf,
            "init_sql": settings.init_sql,
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
        self.jwt_secret_generated = config.jwt_secret is None
        self._jwt_secret = config.jwt_secret or secrets.token_urlsafe(48)
        self._workdir = config.workdir.resolve()  # nginx wants absolute paths
        self._prefix = self._workdir / "nginx"
        self._logs = self._workdir / "logs"
        self.nginx_conf_path = self._prefix / "nginx.conf"
        self._plan(config.port or free_port())

    def _plan(self, port: int) -> None:
        """The processes for nginx on `port` (the services' allowed origins name it)."""
        self.port = port
        ports = PortPlan([port])
        auth_port, chat_port = ports.take(), ports.take()
        gateway_ports = [ports.take() for _ in range(self.config.gateways)]
        env = self._service_env(auth_port, chat_port)
        self.services: dict[str, ManagedProcess] = {
            "auth": self._service("auth", "auth", auth_port, env, ports),
            "chat": self._service("chat", "chat", chat_port, env, ports),
            **{
                f"gateway-{i}": self._service(f"gateway-{i}", "gateway", gateway_port, env, ports)
                for i, gateway_port in enumerate(gateway_ports, start=1)
            },
        }
        self.nginx = ManagedProcess(
            "nginx",
            nginx_command(self._prefix, self.nginx_conf_path, "-g", "daemon off;"),
            dict(self.config.base_env),
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
            web_root=self.config.web_root.resolve(),
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

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.nginx, *self.services.values()]

    @property
    def metrics_urls(self) -> dict[str, str]:
        """Each service's Prometheus endpoint (loopback only; nginx never routes to it)."""
        return {
            name: f"http://{LOCALHOST}:{process.env['MYCHAT_METRICS_PORT']}/metrics"
            for name, process in self.services.items()
            if "MYCHAT_METRICS_PORT" in process.env
        }

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

    def _service(
        self, name: str, service: str, port: int, env: dict[str, str], ports: PortPlan
    ) -> ManagedProcess:
        command = [sys.executable, "-m", "assembly.cli", "serve", service]
        command += ["--host", LOCALHOST, "--port", str(port)]
        own_env = dict(env)
        if self.config.metrics:
            own_env.update(
                {"MYCHAT_METRICS_PORT": str(ports.take()), "MYCHAT_METRICS_HOST": LOCALHOST}
            )
        return ManagedProcess(name, command, own_env, self._logs / f"{name}.log", port, "/readyz")

    def start(self) -> None:
        """Prepare the database, render nginx.conf, start everything, wait until all is ready."""
        for folder in (self._prefix / "temp", self._logs, self._workdir / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        template = _read(self.config.nginx_template, "--nginx-conf or MYCHAT_NGINX_CONF")
        asyncio.run(self._prepare_dependencies())
        try:
            # nginx first: it holds the public port from the start (502 until the services are
            # ready), so nothing can take that port between choosing and binding it.
            self._start_nginx(template)
            for process in self.services.values():
                process.start()
            for process in self.services.values():
                process.wait_ready()
        except BaseException:
            self.stop()
            raise

    def _start_nginx(self, template: str) -> None:
        """Start nginx; a port we picked that someone took meanwhile is picked again."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.nginx_conf_path.write_text(render_nginx_conf(template, self._nginx_values))
            check_nginx_conf(self._prefix, self.nginx_conf_path)
            self.nginx.start()
            try:
                self.nginx.wait_ready()
                return
            except StackError as error:
                if self.config.port or attempt == PORT_ATTEMPTS or PORT_TAKEN not in str(error):
                    raise
            self.nginx.wait(0)
            self._plan(free_port())

    async def _prepare_dependencies(self) -> None:
        if self.config.database_url is not None:
            await prepare_database(self.config.database_url, self.config.init_sql)
        await check_redis(self.config.redis_url)

    def supervisor(
        self, log: Callable[[str], None], policy: RestartPolicy | None = None
    ) -> Supervisor:
        """A supervisor that restarts any process of this stack that exits."""
        return Supervisor(self.processes, log, policy)

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

    def stop(self) -> None:
        """SIGTERM every process at once (nginx first), wait, then SIGKILL what is left."""
        # nginx's SIGQUIT is its graceful stop (it honours worker_shutdown_timeout).
        self.nginx.signal(signal.SIGQUIT)
        for process in self.services.values():
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            process.wait(max(0.0, deadline - time.monotonic()))


def _read(path: Path, how_to_change: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise StackError(
            f"cannot read {path} ({error.strerror}); run from the repository or set {how_to_change}"
        ) from error
