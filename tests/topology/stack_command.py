"""`mychat stack` run as an operator runs it: a subprocess whose children are found by their
command lines and receive real signals."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from assembly.stack import drop_database
from tests.support.database import MARIADB_HOST, MARIADB_PORT, mysql_url, new_database_name
from tests.support.env import ROOT, require_server
from tests.topology.conftest import PRIVATE_VARIABLES
from tests.topology.nginx_stubs import require_nginx

STACK_COMMAND = (sys.executable, "-m", "assembly.cli", "stack")
SERVICES = ("auth", "chat", "gateway")


@dataclass
class RunningStack:
    """The `mychat stack` process, what it printed, and its children by role."""

    process: asyncio.subprocess.Process
    workdir: Path
    url: str = ""
    output: list[str] = field(default_factory=list)
    seen_pids: set[int] = field(default_factory=set)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/mychat/graphql"

    def children(self) -> list[psutil.Process]:
        found: list[psutil.Process] = psutil.Process(self.process.pid).children(recursive=True)
        self.seen_pids |= {child.pid for child in found}
        return found

    def find(self, role: str) -> list[psutil.Process]:
        """The processes of a role by command line: `auth`, `chat`, `gateway` (gateway-1 first)
        or `nginx` (the master; its workers are its children)."""
        conf = (self.workdir / "nginx" / "nginx.conf").read_text()
        # auth, chat, gateway-1, gateway-2, ... in the order the stack rendered them.
        ports = [int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+)", conf)]
        found: list[tuple[int, psutil.Process]] = []
        for child in self.children():
            try:
                cmdline = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if role == "nginx":
                if " ".join(cmdline).startswith("nginx: master"):
                    found.append((0, child))
            elif "serve" in cmdline and role in cmdline:
                found.append((ports.index(int(cmdline[cmdline.index("--port") + 1])), child))
        return [process for _port, process in sorted(found, key=lambda pair: pair[0])]

    def pid_of(self, role: str, index: int = 0) -> int:
        processes = self.find(role)
        assert len(processes) > index, (role, self.output[-20:])
        pid: int = processes[index].pid
        return pid

    def kill(self, role: str, index: int = 0, signum: int = signal.SIGKILL) -> int:
        pid = self.pid_of(role, index)
        os.kill(pid, signum)
        return pid

    async def wait_gone(self, pid: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while alive(pid):
                await asyncio.sleep(0.01)

    async def wait_printed(self, pattern: str, timeout: float = 30.0, start: int = 0) -> str:
        """The first line printed from `start` on that matches `pattern`."""
        regex = re.compile(pattern)
        async with asyncio.timeout(timeout):
            while True:
                for line in self.output[start:]:
                    if regex.search(line):
                        return line
                assert self.process.returncode is None, "\n".join(self.output)
                await asyncio.sleep(0.05)

    async def wait_all_running(self, gateways: int = 2, timeout: float = 30.0) -> None:
        """Until every role has its process again and answers through nginx."""
        async with asyncio.timeout(timeout):
            while True:
                counts = [len(self.find(role)) for role in ("nginx", "auth", "chat")]
                if counts == [1, 1, 1] and len(self.find("gateway")) == gateways:
                    return
                await asyncio.sleep(0.1)

    async def read_output(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.output.append(line.decode(errors="replace").rstrip())


def stack_env(
    database: str, redis_url: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_VARIABLES}
    env.update({"DATABASE_URL": mysql_url(database), "REDIS_URL": redis_url})
    env.update(extra or {})
    return env


@asynccontextmanager
async def stack_command(
    tmp_path: Path,
    redis_url: str,
    *,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[RunningStack]:
    """`mychat stack` with two gateways on a fresh database (the shared MariaDB unless
    `database_url` names another server); on exit SIGTERM, and no process may be left."""
    require_nginx()
    database = new_database_name()
    if database_url is None:
        require_server("MariaDB", MARIADB_HOST, MARIADB_PORT)
        database_url = mysql_url(database)
    environment = stack_env(database, redis_url, env)
    environment["DATABASE_URL"] = database_url
    web = tmp_path / "web"
    web.mkdir(exist_ok=True)
    (web / "index.html").write_text("<!doctype html><title>MyChat</title>")
    process = await asyncio.create_subprocess_exec(
        *STACK_COMMAND, "--gateways", "2", "--port", "0",
        "--workdir", str(tmp_path / "stack"), "--web-root", str(web),
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    running = RunningStack(process, tmp_path / "stack")
    reader = asyncio.create_task(running.read_output())
    try:
        line = await running.wait_printed(r"MyChat stack on ", timeout=90)
        match = re.search(r"MyChat stack on (http://\S+?)/ ", line)
        assert match, line
        running.url = match[1]
        running.children()
        yield running
    finally:
        if process.returncode is None:
            running.children()
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(40):
                    await process.wait()
            finally:
                if process.returncode is None:
                    process.kill()
        await reader
        for log in sorted((tmp_path / "stack" / "logs").glob("*.log")):
            print(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-40:]))
        print("--- mychat stack\n" + "\n".join(running.output))
        await drop_database(database_url)
    left = [pid for pid in running.seen_pids if alive(pid)]
    assert not left, f"processes left behind: {left}"


def alive(pid: int) -> bool:
    try:
        status: str = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return False
    return status != str(psutil.STATUS_ZOMBIE)


async def serving(url: str, timeout: float = 10.0) -> float:
    """Seconds until nginx, a gateway and chat_service answer a GraphQL query again."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with httpx.AsyncClient(base_url=url, timeout=2) as client, asyncio.timeout(timeout):
        while True:
            try:
                response = await client.post("/mychat/graphql", json={"query": "{ __typename }"})
                if response.status_code == 200:
                    return loop.time() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
