"""Our packages use the frameworks' public APIs only, so an upgrade cannot break them silently.

Three ways to reach a framework's private part, each checked over every package of ours
(every top-level package but tests/ and bench/):
- importing an underscore name or module (`from starlette._utils import ...`);
- reading an underscore attribute the framework defines, off anything but `self`/`cls`
  (`schema._schema`, `executor._relevant_sub_fields`);
- a subclass of a framework class defining, overriding or using a private member of its
  framework bases (`def _process_result`, `self._stream_result_processed`).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("strawberry", "starlette", "graphql", "cross_web")
NOT_SHIPPED = {"tests", "bench"}
PRIVATE = re.compile(r"\b_[A-Za-z]\w*")
PRIVATE_MEMBER = re.compile(r"(?:\bdef\s+|\bself\.|\bcls\.)(_[A-Za-z]\w*)")


def our_packages() -> list[str]:
    return sorted(
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in NOT_SHIPPED
    )


def our_files() -> Iterator[Path]:
    for package in our_packages():
        yield from sorted((ROOT / package).rglob("*.py"))


def is_framework(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in FRAMEWORKS


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@cache
def framework_private_names() -> frozenset[str]:
    """Every underscore name in the frameworks' sources (over-inclusive on purpose)."""
    names: set[str] = set()
    for framework in FRAMEWORKS:
        spec = importlib.util.find_spec(framework)
        assert spec is not None, framework
        for location in spec.submodule_search_locations or ():
            for path in Path(location).rglob("*.py"):
                names.update(PRIVATE.findall(path.read_text(encoding="utf-8")))
    return frozenset(names)


def private_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and is_framework(node.module):
            module = node.module or ""
            names = [alias.name for alias in node.names]
            if any(is_private(part) for part in [*module.split("."), *names]):
                yield node.lineno, f"from {module} import {', '.join(names)}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if is_framework(alias.name) and any(is_private(part) for part in parts):
                    yield node.lineno, f"import {alias.name}"


def private_reads(tree: ast.AST) -> Iterator[tuple[int, str]]:
    private = framework_private_names()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or node.attr not in private:
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue  # our own members; subclasses of framework classes are checked below
        yield node.lineno, ast.unparse(node)


def test_no_private_framework_imports_or_attributes() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in our_files()
        for tree in [ast.parse(path.read_text(encoding="utf-8"))]
        for line, what in [*private_imports(tree), *private_reads(tree)]
    ]
    assert found == []


def our_framework_subclasses() -> Iterator[type]:
    for package in our_packages():
        root = importlib.import_module(package)
        modules = [root.__name__]
        modules += [info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")]
        for name in modules:
            module = importlib.import_module(name)
            for value in vars(module).values():
                if (
                    inspect.isclass(value)
                    and value.__module__ == name
                    and any(is_framework(base.__module__) for base in value.__mro__)
                ):
                    yield value


def private_members(cls: type) -> set[str]:
    """The underscore methods a class defines and the underscore members it uses on itself."""
    return set(PRIVATE_MEMBER.findall(inspect.getsource(cls)))


def test_subclasses_touch_no_private_member_of_their_framework_bases() -> None:
    subclasses = list(our_framework_subclasses())
    assert {cls.__name__ for cls in subclasses} >= {
        "GatewayApp",
        "GatewayExtension",
        "GatewaySchema",
        "SharedEventExecutor",
    }
    found: list[str] = []
    for cls in subclasses:
        bases = [base for base in cls.__mro__ if is_framework(base.__module__)]
        theirs = set().union(*(private_members(base) for base in bases))
        found += [
            f"{cls.__module__}.{cls.__name__}: {name}" for name in private_members(cls) & theirs
        ]
    assert found == []
