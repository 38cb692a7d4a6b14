"""Writes bench/results/latest.json, latest.md and PNG plots from scenario results."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results_model import ScenarioResult

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
JSON_PATH = RESULTS_DIR / "latest.json"
MD_PATH = RESULTS_DIR / "latest.md"
QUICK_JSON_PATH = RESULTS_DIR / "quick.json"
QUICK_MD_PATH = RESULTS_DIR / "quick.md"
README_PATH = ROOT / "README.md"
# The README's Benchmarks section shows latest.md between these markers; nothing else is touched.
TABLE_START = "<!-- bench:latest:start -->"
TABLE_END = "<!-- bench:latest:end -->"


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def load_previous(path: Path = JSON_PATH) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        previous: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return previous


def class_path(value: object) -> str:
    """A class among a scenario's settings (uvicorn's `ws` protocol class) by its import path."""
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_all(
    results: list[ScenarioResult], *, plots: bool = True, quick: bool = False
) -> dict[str, Any]:
    """Merge these scenarios into latest.json (others keep their last figures), then render.

    A quick (smoke) run writes quick.json and quick.md instead and leaves the README alone.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path = QUICK_JSON_PATH if quick else JSON_PATH
    document = load_previous(json_path)
    scenarios: dict[str, Any] = document.get("scenarios", {})
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for result in results:
        entry = result.to_json()
        entry["measured_at"] = now
        entry["commit"] = git_commit()
        scenarios[result.name] = entry
    ordered = sorted(
        scenarios.items(),
        key=lambda item: SCENARIO_ORDER.index(item[0]) if item[0] in SCENARIO_ORDER else 99,
    )
    document = {
        "generated_at": now,
        "commit": git_commit(),
        "machine": machine(),
        "scenarios": dict(ordered),
    }
    json_path.write_text(json.dumps(document, indent=2, sort_keys=False, default=class_path) + "\n")
    table = markdown_table(document)
    if quick:
        QUICK_MD_PATH.write_text(table)
        return document
    MD_PATH.write_text(table)
    update_readme(table)
    if plots:
        for result in results:
            plot_scenario(result)
    return document


SCENARIO_ORDER = (
    "rest",
    "graphql",
    "embedded",
    "fanout",
    "events",
    "events_large",
    "connections",
    "login",
    "search",
)


def update_readme(table: str) -> bool:
    """Replace the table between the markers in README.md; False if the markers are absent."""
    if not README_PATH.exists():
        return False
    text = README_PATH.read_text()
    start = text.find(TABLE_START)
    end = text.find(TABLE_END)
    if start < 0 or end < start:
        return False
    updated = text[: start + len(TABLE_START)] + "\n" + table + text[end:]
    if updated != text:
        README_PATH.write_text(updated)
    return True


def _number(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit in ("ms", "KiB") or unit.startswith("%"):
        return f"{value:,.2f}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"


def _when(document: dict[str, Any]) -> str:
    """When and at which commit: per group of scenarios when a run measured only some of them
    (the others keep the figures of their last run)."""
    runs: dict[tuple[str, str], list[str]] = {}
    for name, scenario in document["scenarios"].items():
        key = (
            scenario.get("measured_at", document["generated_at"]),
            scenario.get("commit", document["commit"]),
        )
        runs.setdefault(key, []).append(name)
    if len(runs) <= 1:
        return f"{document['generated_at']} at commit `{document['commit'][:12]}`"
    return "; ".join(
        f"{', '.join(names)}: {at} at commit `{commit[:12]}`"
        for (at, commit), names in runs.items()
    )


def markdown_table(document: dict[str, Any]) -> str:
    m = document["machine"]
    lines = [
        f"Measured {_when(document)} on {m['cores']} cores, Python {m['python']}. Ratio = ours /"
        " baseline, both measured in the same run (for ms, KiB, CPU and lost lower is better)."
        " Load average of the machine during each scenario is in latest.json (`load_average`).",
        "",
        "| Scenario | Figure | Ours | Baseline | Ratio | Unit | Target | Met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for name, scenario in document["scenarios"].items():
        if scenario.get("error"):
            lines.append(f"| {name} | (failed: {scenario['error'][:80]}) | | | | | | |")
        for figure_name, f in scenario["figures"].items():
            ratio = "-" if f["ratio"] is None else f"{f['ratio']:.2f}x"
            met = {True: "yes", False: "**no**", None: ""}[f["target_met"]]
            lines.append(
                f"| {name} | {figure_name} | {_number(f['value'], f['unit'])} | "
                f"{_number(f['baseline'], f['unit'])} | {ratio} | {f['unit']} | "
                f"{f['target'] or ''} | {met} |"
            )
    notes = [
        f"- {name}: {note}"
        for name, scenario in document["scenarios"].items()
        for note in scenario.get("notes", [])
    ]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def plot_scenario(result: ScenarioResult) -> None:
    """<name>_ratios.png (ours/baseline per figure) and <name>_latency.png (CDFs), Agg."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plots (pip install -e '.[bench]')", flush=True)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_ratio = [f for f in result.figures if f.ratio is not None]
    if with_ratio:
        fig, ax = plt.subplots(figsize=(8, 0.5 * len(with_ratio) + 1.5))
        names = [f"{f.name} ({f.unit})" for f in with_ratio]
        ratios = [f.ratio or 0.0 for f in with_ratio]
        colors = [
            "tab:green" if f.target_met else "tab:red" if f.target_met is False else "tab:blue"
            for f in with_ratio
        ]
        ax.barh(names, ratios, color=colors)
        ax.axvline(1.0, color="black", linewidth=1, label="baseline")
        ax.set_xscale("log")
        ax.set_xlabel("ours / baseline (log scale)")
        ax.set_title(result.title)
        ax.invert_yaxis()
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(RESULTS_DIR / f"{result.name}_ratios.png", dpi=90)
        plt.close(fig)
    if result.series:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for label, samples in result.series.items():
            if not samples:
                continue
            ordered = sorted(samples)
            ys = [(i + 1) / len(ordered) for i in range(len(ordered))]
            ax.plot(ordered, ys, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("fraction of requests")
        ax.set_title(f"{result.title}: latency CDF")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(RESULTS_DIR / f"{result.name}_latency.png", dpi=90)
        plt.close(fig)
