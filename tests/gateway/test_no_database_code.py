"""The gateway process never loads database code: importing its app leaves SQLAlchemy, the
drivers and our database modules out of sys.modules (a fresh interpreter, so nothing another
test imported can hide or fake the result)."""

from __future__ import annotations

import json
import subprocess
import sys

DATABASE_MODULES = ("sqlalchemy", "asyncmy", "aiosqlite", "mychat.db", "mychat.service")
SERVICE_PACKAGES = ("auth_service", "chat_service", "assembly")


def loaded_after_import(module: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of `candidates` a fresh interpreter has loaded after `import <module>`."""
    script = (
        f"import json, sys, {module}; "
        f"print(json.dumps([name for name in {list(candidates)!r} if name in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_gateway_app_loads_no_database_code() -> None:
    assert loaded_after_import("gateway.app", DATABASE_MODULES) == []


def test_gateway_app_loads_no_service() -> None:
    assert loaded_after_import("gateway.app", SERVICE_PACKAGES) == []


def test_the_check_sees_database_code_where_it_is_loaded() -> None:
    # The same probe on a service's app finds SQLAlchemy: the assertions above can fail.
    assert "sqlalchemy" in loaded_after_import("chat_service.app", DATABASE_MODULES)
