"""Where the tests run: the repository, the test secret, and skipping (or failing) without a
server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.ports import port_open

ROOT = Path(__file__).resolve().parents[2]
TEST_JWT_SECRET = "test-secret-" + "x" * 40
REDIS_URL = os.environ.get("MYCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# CI sets this: a missing server is then a failure, never a skip.
REQUIRE_SERVICES = os.environ.get("MYCHAT_REQUIRE_SERVICES") == "1"


def require(condition: bool, message: str) -> None:
    """Skip the test unless condition holds; in CI (MYCHAT_REQUIRE_SERVICES=1) fail instead."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(message + " (MYCHAT_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(message)


def require_server(name: str, host: str, port: int) -> None:
    require(port_open(port, host), f"{name} is not reachable at {host}:{port}; start it")
