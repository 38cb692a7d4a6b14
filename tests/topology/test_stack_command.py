"""`mychat stack` as a person runs it: prints the URL, works, and Ctrl-C or SIGTERM stops all."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from assembly.stack import StackError, drop_database, prepare_database
from tests.support.database import MARIADB_HOST, MARIADB_PORT, mysql_url, new_database_name
from tests.support.env import require_server
from tests.support.ports import port_open
from tests.support.redis import PrivateRedis
from tests.topology.clients import register
from tests.topology.conftest import PRIVATE_VARIABLES
from tests.topology.nginx_stubs import require_nginx

pytestmark = [pytest.mark.topology, pytest.mark.mariadb, pytest.mark.redis]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_the_stack_command_runs_and_stops_everything(
    tmp_path: Path, private_redis: PrivateRedis, signum: signal.Signals
) -> None:
    require_nginx()
    require_server("MariaDB", MARIADB_HOST, MARIADB_PORT)
    database = new_database_name()
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_VARIABLES}
    # No JWT_SECRET: the stack generates one and gives it to every service.
    env.update({"DATABASE_URL": mysql_url(database), "REDIS_URL": private_redis.url})
    workdir = tmp_path / "stack"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assembly.cli", "stack", "--gateways", "2", "--port", "0",
        "--workdir", str(workdir),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        output = b""
        async with asyncio.timeout(60):
            while b"Ctrl-C stops everything" not in output:
                line = await process.stdout.readline()
                assert line, output.decode()
                output += line
        url = re.search(rb"MyChat stack on (http://\S+?)/ ", output)
        assert url, output.decode()
        async with httpx.AsyncClient(base_url=url[1].decode()) as client:
            assert (await client.get("/healthz")).status_code == 200
            user = await register(client, "Dora")
            chats = await client.get("/mychat/api/chat/", headers=user.headers)
            assert chats.json() == []  # the token from auth is accepted by chat: same secret
        conf = (workdir / "nginx" / "nginx.conf").read_text()
        ports = [int(p) for p in re.findall(r"(?:server|listen) 127\.0\.0\.1:(\d+)", conf)]
        assert len(ports) == 5  # nginx, auth, chat, two gateways
        assert all([port_open(port) for port in ports])

        process.send_signal(signum)
        async with asyncio.timeout(30):
            rest = await process.stdout.read()
            assert await process.wait() == 128 + signum
        assert b"stopping" in rest
        assert not any([port_open(port) for port in ports])
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await drop_database(mysql_url(database))


@pytest.mark.parametrize("name", ["bad-name", "x`; DROP DATABASE test; --", ""])
async def test_database_names_go_into_statements_only_when_plain(name: str) -> None:
    """CREATE/DROP DATABASE cannot bind a name: anything but letters, digits and _ is refused
    before a connection is made (the port below has no server)."""
    url = f"mysql+asyncmy://root@127.0.0.1:9/{name}"
    for step in (prepare_database, drop_database):
        with pytest.raises(StackError, match="letters, digits and underscores"):
            await step(url)
