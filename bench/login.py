"""Scenario 5, login: logins per second against raw argon2 verify calls per second.

Ours: POST /mychat/api/auth/login on auth_service (MariaDB lookup, argon2id verify in a worker
thread, JWT issue). Baseline: argon2-cffi's PasswordHasher.verify with auth_service's own
parameters (HashParameters), called back to back in as many threads as there are cores, which
is what the machine can verify at most; the one-thread rate is reported too.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from argon2 import PasswordHasher, Type

from bench.config import BenchConfig
from bench.loadgen import TOOL, LoadResult, merge
from bench.measure import describe, json_request, load
from bench.results_model import Figure, ScenarioResult
from bench.stack import mychat_stack, register

PASSWORD = "bench-password-1234"


def hasher() -> PasswordHasher:
    from auth_service.passwords import HashParameters

    p = HashParameters()
    return PasswordHasher(
        time_cost=p.time_cost, memory_cost=p.memory_cost, parallelism=p.parallelism, type=Type.ID
    )


def verify_rate(threads: int, seconds: float) -> float:
    """argon2 verifications per second, `threads` threads verifying back to back."""
    ph = hasher()
    stored = ph.hash(PASSWORD)
    deadline = time.monotonic() + seconds

    def worker() -> int:
        done = 0
        while time.monotonic() < deadline:
            ph.verify(stored, PASSWORD)
            done += 1
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: worker(), range(threads)))
    return total / (time.monotonic() - started)


def run(config: BenchConfig) -> ScenarioResult:
    cores = os.cpu_count() or 1
    from auth_service.passwords import HashParameters

    params = HashParameters()
    scenario = ScenarioResult(
        "login",
        "Login: logins/s vs raw argon2 verify calls/s",
        method=(
            f"{TOOL}; {config.login_concurrency} connections, {config.warmup_seconds} s warm-up, "
            f"{config.duration_seconds} s measured in 2 rounds interleaved with the verify loops, "
            "POST /mychat/api/auth/login on auth_service; "
            f"baseline = argon2-cffi PasswordHasher.verify in {cores} threads (one per core) for "
            f"{config.duration_seconds} s with auth_service's parameters"
        ),
        settings={
            "concurrency": config.login_concurrency,
            "duration_seconds": config.duration_seconds,
            "argon2": {
                "type": "argon2id",
                "memory_cost_kib": params.memory_cost,
                "time_cost": params.time_cost,
                "parallelism": params.parallelism,
            },
            "baseline_threads": cores,
        },
    )
    print("Login: raw argon2 verify and auth_service logins, interleaved", flush=True)
    rounds = 2
    seconds = max(1.0, config.duration_seconds / rounds)
    short = replace(config, duration_seconds=seconds)
    one_thread_rates: list[float] = []
    all_core_rates: list[float] = []
    runs: list[LoadResult] = []
    with mychat_stack("login", with_gateway=False) as stack:
        register(stack, "bench", PASSWORD)
        login = json_request("/mychat/api/auth/login", {"login": "bench", "password": PASSWORD})
        for _ in range(rounds):
            one_thread_rates.append(verify_rate(1, seconds / 2))
            all_core_rates.append(verify_rate(cores, seconds))
            runs.append(
                load(
                    short,
                    stack.auth_port,
                    [login],
                    concurrency=config.login_concurrency,
                    expect_in_body='"token"',
                )
            )
    one_thread = sum(one_thread_rates) / rounds
    all_cores = sum(all_core_rates) / rounds
    result = merge(runs)
    print(f"  verify: {one_thread:.1f}/s in 1 thread, {all_cores:.1f}/s in {cores} threads")
    print(describe("login (ours)", result), flush=True)
    scenario.add(
        Figure(
            "logins/s",
            result.rps,
            "req/s",
            all_cores,
            note=f"baseline = verify calls/s in {cores} threads; errors {result.errors}",
        )
    )
    scenario.add(Figure("logins/s vs 1-thread verify", result.rps, "req/s", one_thread))
    scenario.add(Figure("login p99", result.latency_ms["p99"], "ms", higher_is_better=False))
    return scenario
