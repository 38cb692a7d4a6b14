"""Keep every process of the stack running: restart what died, slower for what keeps dying."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from assembly.stack.processes import ManagedProcess, describe_exit

READY_PROBE_TIMEOUT = 0.5


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff between restarts of a process that keeps dying.

    The first restart is almost at once (a crash should cost seconds, not minutes); each quick
    death after it doubles the delay up to `max_delay`. A process that answered its readiness
    probe and stayed up for `stable_after` seconds was healthy: its next restart is quick again.
    So a process that cannot start (bad configuration, database down) is retried ever more
    slowly, while one that served and then died comes back at once.
    """

    first_delay: float = 0.25
    max_delay: float = 30.0
    stable_after: float = 10.0

    def delay(self, attempt: int) -> float:
        """The wait before restart number `attempt` (1, 2, ...) of a series of quick deaths."""
        return min(self.max_delay, self.first_delay * 2.0 ** max(0, attempt - 1))


@dataclass
class _Watch:
    attempt: int = 0
    restart_at: float | None = None
    awaiting_ready: bool = False  # restarted, not yet ready (the stack's start waited for all)


class Supervisor:
    """Restarts the stack's processes that exit, whatever the signal or exit code.

    `tick()` does one round of checks without blocking on any one process (a restarted process
    is probed for readiness on later ticks), so one process dying again and again does not
    delay the others' restarts.
    """

    def __init__(
        self,
        processes: Sequence[ManagedProcess],
        log: Callable[[str], None],
        policy: RestartPolicy | None = None,
    ) -> None:
        self._processes = list(processes)
        self._log = log
        self._policy = policy or RestartPolicy()
        self._watches = {p.name: _Watch() for p in self._processes}
        self._probe = httpx.Client(timeout=READY_PROBE_TIMEOUT)
        self.restarts = 0

    def close(self) -> None:
        self._probe.close()

    def tick(self) -> None:
        for process in self._processes:
            self._check(process, self._watches[process.name])

    def _check(self, process: ManagedProcess, watch: _Watch) -> None:
        now = time.monotonic()
        if watch.restart_at is not None:
            if now >= watch.restart_at:
                process.start()
                self.restarts += 1
                watch.restart_at, watch.awaiting_ready = None, True
                self._log(f"{process.name} restarted (pid {process.pid})")
            return
        if process.running:
            if watch.awaiting_ready and process.is_ready(self._probe):
                watch.awaiting_ready = False
                self._log(f"{process.name} is ready again after {now - process.started_at:.1f}s")
            return
        how = describe_exit(process.returncode)
        process.wait(0)  # reap it, end its group's leftovers, close its log
        uptime = now - process.started_at
        healthy = not watch.awaiting_ready and uptime >= self._policy.stable_after
        watch.attempt = 1 if healthy else watch.attempt + 1
        delay = self._policy.delay(watch.attempt)
        watch.restart_at = now + delay
        watch.awaiting_ready = False
        tail = "\n".join(f"    {line}" for line in process.log_tail(5).splitlines())
        self._log(
            f"{process.name} {how} after {uptime:.1f}s up; restarting in {delay:.2f}s"
            f" (attempt {watch.attempt})" + (f"; its last lines:\n{tail}" if tail else "")
        )
