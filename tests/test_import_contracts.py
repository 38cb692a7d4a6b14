"""The import contracts of pyproject.toml ([tool.importlinter], run by `make lint`): the
repository keeps them, and a copy of it with one forbidden import added breaks the contract that
forbids it, so `lint-imports` (and `make check`) fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    command = [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--config", "pyproject.toml"]
    for contract in contracts:
        command += ["--contract", contract]
    return subprocess.run(
        command,
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages the contracts name, with the repository's configuration."""
    for package in CONFIG["root_packages"]:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


def test_the_copy_keeps_every_contract(tree: Path) -> None:
    # So that in the test below the one added import is what breaks the contract.
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("importer", "forbidden", "contract"),
    [
        ("mychat", "auth_service", "shared-library"),
        ("mychat", "gateway.app", "shared-library"),
        ("chat_service", "auth_service", "services-apart"),
        ("auth_service", "chat_service", "services-apart"),
        ("chat_service", "gateway", "services-apart"),
        ("gateway", "sqlalchemy", "gateway-no-database"),
        ("gateway", "aiosqlite", "gateway-no-database"),
        ("gateway", "mychat.service", "gateway-no-database"),  # SQLAlchemy one step away
        ("gateway", "mychat.db", "gateway-no-database"),
        ("chat_service", "assembly.cli", "layers"),
        ("mychat", "assembly", "layers"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, importer: str, forbidden: str, contract: str
) -> None:
    with (tree / importer / "__init__.py").open("a") as module:
        module.write(f"\nimport {forbidden}\n")
    result = lint_imports(tree, contract)
    assert result.returncode != 0, result.stdout
    assert "Contracts: 0 kept, 1 broken." in result.stdout
    # The report names the line added (the last line of the module).
    line = len((tree / importer / "__init__.py").read_text().splitlines())
    assert f"{importer} -> {forbidden} (l.{line})" in result.stdout, result.stdout
