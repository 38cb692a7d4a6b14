"""One child process of the stack: started in its own process group, stopped with all of it."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from assembly.stack.errors import StackError
from assembly.stack.nginx import LOCALHOST

READY_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def stop_with_parent() -> Callable[[], None] | None:
    """Linux: a function for Popen's preexec_fn that makes the child get SIGTERM when the
    stack dies, however it dies. The stack stops its children itself on Ctrl-C or SIGTERM, but
    SIGKILL (an operator's kill -9, the OOM killer) gives it no chance to, and its services
    would go on holding their ports. Elsewhere: None (the children outlive a killed stack)."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not in it
    parent = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the stack died before the prctl: nobody will signal
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


class PortPlan:
    """Free ports for one plan of processes, none handed out twice. Each `free_port` is free
    when asked, and the kernel may hand the same one to two asks before either binds it (seen:
    a gateway planned on the port of another process's metrics server could not bind)."""

    def __init__(self, taken: Iterable[int] = (), source: Callable[[], int] = free_port) -> None:
        self._given = set(taken)
        self._source = source

    def take(self) -> int:
        while (port := self._source()) in self._given:
            pass
        self._given.add(port)
        return port


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "running"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


@dataclass
class ManagedProcess:
    """One child, the leader of its own process group: a terminal's Ctrl-C reaches only the
    stack, and stopping the group also ends what the child started (nginx's workers)."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    port: int
    ready_path: str
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # time.monotonic() of the last start
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._close_log()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603  # our own arguments, no shell
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=stop_with_parent(),  # safe: the stack forks from its only thread
        )
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal(self, signum: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL whatever is left of the process group (orphaned workers of a dead leader)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> None:
        """Wait for the exit; SIGKILL the group after `timeout` seconds."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.kill_group()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def ready_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}{self.ready_path}"

    def is_ready(self, client: httpx.Client) -> bool:
        try:
            return client.get(self.ready_url).status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll the readiness URL until it answers 200; fail early if the process died."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    raise StackError(f"{self.name} exited while starting:\n{self.log_tail()}")
                if self.is_ready(client):
                    return
                time.sleep(0.1)
        raise StackError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")
