"""Shared measuring steps: drive a port with the load generator, turn results into figures."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from bench.config import BenchConfig
from bench.loadgen import HttpRequest, LoadResult, LoadSpec, merge, run_load
from bench.results_model import Figure, ScenarioResult


def json_request(path: str, body: Any, token: str | None = None) -> HttpRequest:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return HttpRequest("POST", path, headers, json.dumps(body))


def get_request(path: str, token: str | None = None) -> HttpRequest:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return HttpRequest("GET", path, headers)


def load(
    config: BenchConfig,
    port: int,
    requests: list[HttpRequest],
    *,
    concurrency: int | None = None,
    expect_in_body: str | None = None,
    reject_in_body: str | None = None,
) -> LoadResult:
    spec = LoadSpec(
        port=port,
        requests=requests,
        concurrency=concurrency or config.http_concurrency,
        warmup_seconds=config.warmup_seconds,
        duration_seconds=config.duration_seconds,
        expect_in_body=expect_in_body,
        reject_in_body=reject_in_body,
    )
    return run_load(spec)


@dataclass
class Target:
    """One side of a comparison: where to send what, and what a good answer looks like."""

    port: int
    requests: list[HttpRequest]
    expect_in_body: str | None = None
    reject_in_body: str | None = None


def compare(
    config: BenchConfig,
    ours: Target,
    baseline: Target,
    *,
    concurrency: int | None = None,
    rounds: int = 2,
) -> tuple[LoadResult, LoadResult]:
    """Alternate baseline and ours `rounds` times, each for duration/rounds seconds.

    Interleaving keeps a burst of unrelated load on this shared machine from landing on one
    side only; the rounds are merged (requests summed, percentiles over all samples).
    """
    seconds = max(1.0, config.duration_seconds / rounds)
    short = replace(config, duration_seconds=seconds)
    ours_runs: list[LoadResult] = []
    base_runs: list[LoadResult] = []
    for _ in range(rounds):
        for target, runs in ((baseline, base_runs), (ours, ours_runs)):
            runs.append(
                load(
                    short,
                    target.port,
                    target.requests,
                    concurrency=concurrency,
                    expect_in_body=target.expect_in_body,
                    reject_in_body=target.reject_in_body,
                )
            )
    return merge(ours_runs), merge(base_runs)


def describe(label: str, result: LoadResult) -> str:
    line = (
        f"  {label:<34} {result.rps:9.0f} req/s  p50 {result.latency_ms['p50']:7.2f} ms"
        f"  p99 {result.latency_ms['p99']:7.2f} ms  errors {result.errors}"
    )
    if result.first_error:
        line += f"\n    first error: {result.first_error[:200]}"
    return line


def add_throughput_figures(
    scenario: ScenarioResult,
    name: str,
    ours: LoadResult,
    baseline: LoadResult,
    *,
    target_ratio: float | None = None,
) -> None:
    """`<name> rps` and `<name> p99` figures, with the ratio target on throughput if any."""
    note = f"errors: ours {ours.errors}, baseline {baseline.errors}"
    throughput = Figure(f"{name} rps", ours.rps, "req/s", baseline.rps, note=note)
    if target_ratio is not None:
        throughput.target = f">= {target_ratio}x baseline"
        ratio = throughput.ratio
        throughput.target_met = ratio is not None and ratio >= target_ratio and ours.errors == 0
    scenario.add(throughput)
    scenario.add(
        Figure(
            f"{name} p99",
            ours.latency_ms["p99"],
            "ms",
            baseline.latency_ms["p99"],
            higher_is_better=False,
        )
    )
    scenario.series[f"{name} (ours)"] = ours.samples_ms
    scenario.series[f"{name} (baseline)"] = baseline.samples_ms
