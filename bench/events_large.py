"""Scenario `events_large`: 10,000 subscribers of the web app's chatEvents (bench/events.py)."""

from __future__ import annotations

from bench.config import BenchConfig
from bench.events import run_large
from bench.results_model import ScenarioResult


def run(config: BenchConfig) -> ScenarioResult:
    return run_large(config)
