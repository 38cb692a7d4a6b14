"""`mychat stack` keeps its processes running: whatever dies is started again, the rest serve on."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from assembly.stack import ManagedProcess, RestartPolicy, Supervisor
from tests.support.clients import graphql
from tests.support.ports import free_port
from tests.support.redis import PrivateRedis
from tests.topology.clients import register
from tests.topology.stack_command import alive, serving, stack_command

pytestmark = [pytest.mark.topology]


def test_the_delay_doubles_for_a_process_that_keeps_dying_up_to_a_ceiling() -> None:
    policy = RestartPolicy(first_delay=0.25, max_delay=4.0)
    assert [policy.delay(attempt) for attempt in range(1, 8)] == [0.25, 0.5, 1, 2, 4, 4, 4]


def test_a_process_that_keeps_exiting_is_restarted_ever_more_slowly(tmp_path: Path) -> None:
    crashing = ManagedProcess(
        "crasher",
        [sys.executable, "-c", "import sys; print('broken config'); sys.exit(3)"],
        {},
        tmp_path / "crasher.log",
        port=9,
        ready_path="/",
    )
    lines: list[str] = []
    policy = RestartPolicy(first_delay=0.05, stable_after=60)
    supervisor = Supervisor([crashing], lines.append, policy)
    crashing.start()
    started = time.monotonic()
    try:
        while sum("exit code 3" in line for line in lines) < 5:
            assert time.monotonic() < started + 30, lines
            supervisor.tick()
            time.sleep(0.01)
    finally:
        supervisor.close()
        crashing.wait(5)
    exits = [line for line in lines if "exit code 3" in line]
    delays = [line.split("restarting in ")[1].split(";")[0] for line in exits]
    assert delays == [
        "0.05s (attempt 1)",
        "0.10s (attempt 2)",
        "0.20s (attempt 3)",
        "0.40s (attempt 4)",
        "0.80s (attempt 5)",
    ], lines
    # Waited out, not busy: at least the sum of the first four delays passed.
    assert time.monotonic() - started >= 0.75
    assert "broken config" in exits[0]  # the log says why
    assert len([line for line in lines if "restarted" in line]) == supervisor.restarts


def test_a_process_that_served_comes_back_at_once_and_one_that_never_got_ready_slower(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = ManagedProcess(
        "server",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        {},
        tmp_path / "server.log",
        port=port,
        ready_path="/",
    )
    lines: list[str] = []
    supervisor = Supervisor(
        [server], lines.append, RestartPolicy(first_delay=0.05, stable_after=0.5)
    )

    def tick_until(text: str, count: int = 1) -> None:
        deadline = time.monotonic() + 10
        while sum(text in line for line in lines) < count:
            assert time.monotonic() < deadline, lines
            supervisor.tick()
            time.sleep(0.01)

    server.start()
    try:
        server.wait_ready()
        time.sleep(0.6)  # ready and up longer than stable_after: healthy
        server.signal(signal.SIGKILL)
        tick_until("restarting in")
        tick_until("is ready again")
        time.sleep(0.6)
        server.signal(signal.SIGKILL)
        tick_until("restarting in", 2)
        tick_until("restarted", 2)
        server.signal(signal.SIGKILL)  # dies again before it was ever ready: slower
        tick_until("restarting in", 3)
    finally:
        supervisor.close()
        server.signal(signal.SIGKILL)
        server.wait(5)
    attempts = [line.split("restarting in ")[1] for line in lines if "restarting in" in line]
    assert [a.split(";")[0] for a in attempts] == [
        "0.05s (attempt 1)",
        "0.05s (attempt 1)",
        "0.10s (attempt 2)",
    ], lines


@pytest.mark.mariadb
@pytest.mark.redis
async def test_killed_processes_come_back_while_the_rest_keep_serving(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    async with stack_command(tmp_path, private_redis.url) as stack:
        others = {role: stack.pid_of(role) for role in ("nginx", "auth", "chat")}
        survivor = stack.pid_of("gateway", 1)
        async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
            user = await register(client, "Dora")
            printed = len(stack.output)
            killed = stack.kill("gateway", 0)
            await stack.wait_gone(killed)
            # The other gateway serves at once: nginx skips the dead one (a request caught
            # inside the dying gateway gets 503; clients retry those, see test_chaos.py).
            assert await serving(stack.url) < 1.0
            me = await graphql(client, "{ me { nickname } }", {}, user.token)
            assert me["me"]["nickname"] == user.nickname
            await stack.wait_printed(r"gateway-1 killed by SIGKILL.*restarting in", start=printed)
            await stack.wait_printed(r"gateway-1 is ready again", start=printed)
            assert stack.pid_of("gateway", 0) != killed
            assert stack.pid_of("gateway", 1) == survivor
            assert {role: stack.pid_of(role) for role in others} == others

            # nginx's master killed: its orphaned workers go with it, a new nginx takes the port.
            workers = [w.pid for w in stack.find("nginx")[0].children()]
            stack.kill("nginx")
            await stack.wait_printed(r"nginx killed by SIGKILL", start=printed)
            assert await serving(stack.url) < 10
            assert not any(alive(pid) for pid in workers)
            # Any exit counts, a graceful one too.
            stack.kill("chat", signum=signal.SIGTERM)
            await stack.wait_printed(r"chat killed by SIGTERM .*restarting in", start=printed)
            await stack.wait_printed(r"chat is ready again", start=printed)
            assert (await client.get("/mychat/api/chat/", headers=user.headers)).json() == []
        await asyncio.to_thread(stack.children)  # remember every pid: none may outlive the stack


@pytest.mark.mariadb
@pytest.mark.redis
async def test_a_stack_killed_with_sigkill_takes_every_process_with_it(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    """kill -9 gives the stack no chance to stop its children: the kernel tells them
    (a parent-death signal), so no service is left holding its port."""
    async with stack_command(tmp_path, private_redis.url) as stack:
        children = await asyncio.to_thread(stack.children)
        roles = {role: stack.pid_of(role) for role in ("nginx", "auth", "chat", "gateway")}
        assert set(roles.values()) <= {child.pid for child in children}
        stack.process.kill()
        await stack.process.wait()
        try:
            async with asyncio.timeout(30):
                while [child for child in children if alive(child.pid)]:
                    await asyncio.sleep(0.1)
        finally:  # if they outlived it, end them here: no test leaves processes behind
            for child in children:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
        with pytest.raises(httpx.TransportError):
            async with httpx.AsyncClient(base_url=stack.url, timeout=2) as client:
                await client.get("/healthz")
