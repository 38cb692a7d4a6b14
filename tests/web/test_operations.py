"""The web app's GraphQL documents are valid against the gateway's schema (no drift)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from gateway.schema import build_schema
from tests.conftest import ROOT
from tests.web.conftest import require

WEB = ROOT / "web"


def test_every_web_operation_validates_against_the_schema(tmp_path: Path) -> None:
    node = shutil.which("node")
    require(node is not None, "node is not installed; it builds and checks the web app")
    require(
        (WEB / "node_modules" / "graphql").is_dir(),
        "web/node_modules is missing; run `make install` (npm ci in web/)",
    )
    assert node is not None
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
