"""Garbage-collector settings for a server process (called once, just before it serves).

A gateway holds many long-lived objects (thousands of subscriptions) while every event makes
short-lived ones for each subscriber. With CPython's default thresholds (700, 10, 10), objects
still in flight during a fan-out are promoted to the oldest generation often enough that full
collections, which walk every subscription's objects, ran every few seconds and stalled
delivery for 150-280 ms (bench/PROFILE.md). Collecting the young generation less often
promotes far fewer of them; freezing what exists at startup (modules, the schema, the apps)
keeps it out of every later collection.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 20


def tune_for_server() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
