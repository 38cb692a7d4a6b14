"""The MariaDB server under test: URLs, fresh database names, cutting a connection."""

from __future__ import annotations

import os
import secrets

from mychat.settings import Settings

MARIADB_HOST = os.environ.get("MYCHAT_TEST_MYSQL_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("MYCHAT_TEST_MYSQL_PORT", "3306"))
MARIADB_USER = os.environ.get("MYCHAT_TEST_MYSQL_USER", "root")
MARIADB_PASSWORD = os.environ.get("MYCHAT_TEST_MYSQL_PASSWORD", "")


def mysql_url(database: str = "") -> str:
    return (
        f"mysql+asyncmy://{MARIADB_USER}:{MARIADB_PASSWORD}@{MARIADB_HOST}:{MARIADB_PORT}"
        f"/{database}?charset=utf8mb4"
    )


def new_database_name() -> str:
    """A database name no other test (of this run or of anyone's on the machine) uses."""
    return f"mychat_test_{secrets.token_hex(6)}"


async def kill_connection(settings: Settings, connection_id: int) -> None:
    """End a MariaDB connection from another one, as a server restart or an idle cut would."""
    from sqlalchemy import text

    from mychat.db import create_engine

    other = create_engine(settings)
    try:
        async with other.connect() as killer:
            await killer.execute(text(f"KILL {connection_id}"))
    finally:
        await other.dispose()
