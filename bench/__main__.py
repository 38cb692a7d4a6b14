"""`python -m bench [scenario ...] [--quick]`: run the benchmarks and write the results."""

from __future__ import annotations

import argparse
import importlib
import os
import time
import traceback
from collections.abc import Sequence

from bench.config import BenchConfig
from bench.procs import raise_fd_limit
from bench.report import (
    JSON_PATH,
    MD_PATH,
    QUICK_JSON_PATH,
    QUICK_MD_PATH,
    ROOT,
    SCENARIO_ORDER,
    write_all,
)
from bench.results_model import ScenarioResult

SCENARIOS = SCENARIO_ORDER


def run_scenario(name: str, config: BenchConfig) -> ScenarioResult:
    module = importlib.import_module(f"bench.{name}")
    try:
        result: ScenarioResult = module.run(config)
    except Exception as error:  # one broken scenario must not hide the others' figures
        traceback.print_exc()
        return ScenarioResult(name, name, "failed", error=f"{type(error).__name__}: {error}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short smoke run, small counts; writes quick.json/quick.md, not latest.*",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    args = parser.parse_args(argv)
    chosen: list[str] = args.scenarios or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    config = BenchConfig.quick() if args.quick else BenchConfig()
    fd_limit = raise_fd_limit()
    print(f"bench: scenarios {', '.join(chosen)}; open-files limit {fd_limit}", flush=True)
    results: list[ScenarioResult] = []
    for name in chosen:
        started = time.monotonic()
        print(f"\n=== {name} ===", flush=True)
        load_before = os.getloadavg()[0]
        result = run_scenario(name, config)
        # Others' processes on this shared machine skew absolute numbers: say how busy it was.
        result.settings["load_average"] = {
            "before": round(load_before, 2),
            "after": round(os.getloadavg()[0], 2),
        }
        print(f"  method: {result.method}", flush=True)
        for figure in result.figures:
            ratio = "" if figure.ratio is None else f"  ratio {figure.ratio:.2f}x"
            met = (
                ""
                if figure.target_met is None
                else f"  target {figure.target}: {figure.target_met}"
            )
            baseline = "" if figure.baseline is None else f"  baseline {figure.baseline:.2f}"
            print(f"  {figure.name}: {figure.value:.2f} {figure.unit}{baseline}{ratio}{met}")
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
        results.append(result)
    write_all(results, plots=not args.no_plots, quick=args.quick)
    written = (QUICK_JSON_PATH, QUICK_MD_PATH) if args.quick else (JSON_PATH, MD_PATH)
    print(f"\nwrote {written[0].relative_to(ROOT)} and {written[1].name}", flush=True)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
