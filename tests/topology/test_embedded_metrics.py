"""`mychat serve` (embedded: three apps in one process) with MYCHAT_METRICS_PORT: it starts
(each app used to bind the port itself: "Address already in use") and one endpoint serves
every app's metrics, each sample labelled with its service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.env import ROOT, TEST_JWT_SECRET
from tests.support.people import PASSWORD
from tests.support.ports import free_port
from tests.topology.test_operability import sample


def test_one_endpoint_serves_every_embedded_apps_metrics(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "JWT_SECRET": TEST_JWT_SECRET, "MYCHAT_LOG_LEVEL": "warning"}
    env |= {"MYCHAT_METRICS_PORT": str(metrics_port)}
    for name in ("DATABASE_URL", "MYSQL_HOST", "REDIS_URL"):
        env.pop(name, None)
    command = [sys.executable, "-m", "assembly.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--data-dir", str(tmp_path)]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.1)
        body = {"login": "ann", "password": PASSWORD, "nickname": "Ann"}
        assert httpx.post(base + "/mychat/api/auth/register", json=body).status_code == 200
        query = {"query": "{ __typename }"}
        assert httpx.post(base + "/mychat/graphql", json=query).status_code == 200
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)

    registered = {"route": "/mychat/api/auth/register", "status": "200", "service": "auth"}
    assert sample(text, "mychat_http_requests_total", **registered) == 1
    graphql = {"route": "/mychat/graphql", "status": "200", "service": "gateway"}
    assert sample(text, "mychat_http_requests_total", **graphql) == 1
    assert sample(text, "mychat_db_pool_size", pool="main", service="chat") >= 1
    # One family per name, whatever the number of apps that report it.
    assert text.count("# TYPE mychat_http_requests_total counter") == 1
