"""schema.graphql (what the web app codes against) must match the code."""

from __future__ import annotations

from pathlib import Path

from assembly.cli import main
from gateway.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def test_schema_file_is_current() -> None:
    expected = build_schema().as_str().rstrip() + "\n"
    current = (ROOT / "schema.graphql").read_text()
    assert current == expected, "schema.graphql is stale: run `mychat export-schema`"


def test_export_schema_check_command(tmp_path: Path) -> None:
    output = tmp_path / "schema.graphql"
    assert main(["export-schema", "--output", str(output), "--check"]) == 1
    assert main(["export-schema", "--output", str(output)]) == 0
    assert main(["export-schema", "--output", str(output), "--check"]) == 0
    assert output.read_text() == (ROOT / "schema.graphql").read_text()
