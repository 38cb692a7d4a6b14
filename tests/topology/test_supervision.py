"""`mychat stack` keeps its processes running: whatever dies is started again, the rest serve on."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from assembly.stack import ManagedProcess, RestartPolicy, Supervisor
from tests.support.clients import graphql
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
    logged_at: list[float] = []

    def log(line: str) -> None:
        lines.append(line)
        logged_at.append(time.monotonic())

    def exits() -> list[int]:
        return [index for index, line in enumerate(lines) if "exit code 3" in line]

    supervisor = Supervisor([crashing], log, RestartPolicy(first_delay=0.05))
    crashing.start()
    try:
        # Five exits, however long a loaded machine takes to start Python five times.
        deadline = time.monotonic() + 30
        while len(exits()) < 5 and time.monotonic() < deadline:
            supervisor.tick()
            time.sleep(0.01)
    finally:
        supervisor.close()
        crashing.wait(5)
    assert len(exits()) == 5, lines
    delays = [float(lines[i].split("restarting in ")[1].split("s")[0]) for i in exits()]
    # Each quick death doubles the wait: 0.05 + 0.1 + 0.2 + 0.4 s, not dozens of restarts.
    assert delays == [0.05, 0.1, 0.2, 0.4, 0.8], lines
    for number, exit_line in enumerate(exits()[:-1]):
        restart_line = next(i for i in range(exit_line + 1, len(lines)) if "restarted" in lines[i])
        assert logged_at[restart_line] - logged_at[exit_line] >= delays[number], lines
    assert "broken config" in lines[exits()[0]]  # the log says why
    assert len([line for line in lines if "restarted" in line]) == supervisor.restarts


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
