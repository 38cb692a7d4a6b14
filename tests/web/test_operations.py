"""The web app's sources: GraphQL documents valid against the gateway's schema (no drift),
and JavaScript formatted with the pinned Prettier."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from gateway.schema import build_schema
from tests.support.env import ROOT, require

WEB = ROOT / "web"


def node_with_modules(package: str) -> str:
    node = shutil.which("node")
    require(node is not None, "node is not installed; it builds and checks the web app")
    require(
        (WEB / "node_modules" / package).is_dir(),
        "web/node_modules is missing; run `make install` (npm ci in web/)",
    )
    assert node is not None
    return node


def test_every_web_operation_validates_against_the_schema(tmp_path: Path) -> None:
    node = node_with_modules("graphql")
    sdl = tmp_path / "schema.graphql"
    sdl.write_text(build_schema().as_str())
    result = subprocess.run(
        [node, "scripts/check-operations.mjs", str(sdl)],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 invalid" in result.stdout


def test_web_sources_are_formatted() -> None:
    node = node_with_modules("prettier")
    result = subprocess.run(
        [
            node,
            "node_modules/prettier/bin/prettier.cjs",
            "--check",
            "src",
            "scripts",
            "vite.config.js",
        ],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"run `npm run format` in web/:\n{result.stdout}{result.stderr}"
