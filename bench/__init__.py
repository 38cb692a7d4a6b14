"""MyChat benchmarks: each scenario measures our path next to a bare baseline in the same run.

Run them all with `python -m bench` (or `make bench`), one with `python -m bench rest`.
Benchmarks are scripts, not tests: they start servers as subprocesses on loopback, drive them
with a bounded load generator and write bench/results/latest.{json,md} and PNG plots.
"""
