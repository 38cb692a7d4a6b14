"""Create, load and drop the MySQL/MariaDB database a stack (or a test, or a bench) runs on."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from assembly.stack.errors import StackError

# Relative to the current folder (the repository); `mychat stack --init-sql` or MYCHAT_INIT_SQL
# say where it is otherwise.
DEFAULT_INIT_SQL = Path("db/init.sql")
DATABASE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def init_sql_statements(path: Path = DEFAULT_INIT_SQL) -> list[str]:
    try:
        source = path.read_text()
    except OSError as error:
        raise StackError(f"cannot read the schema {path}: {error.strerror}") from error
    lines = [line for line in source.splitlines() if not line.startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


async def prepare_database(url: str, init_sql: Path = DEFAULT_INIT_SQL) -> None:
    """Create the MySQL/MariaDB database and load `init_sql` into it if it has no tables."""
    parsed: URL = make_url(url)
    if parsed.get_backend_name() != "mysql":
        return  # SQLite: the services create their schema themselves
    name = _database_name(parsed)
    await _on_server(
        parsed,
        f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    )
    engine = create_async_engine(parsed)
    # MariaDB notes that it ignores constraint names on primary keys; not worth a warning.
    logging.getLogger("asyncmy").setLevel(logging.ERROR)
    try:
        async with engine.begin() as connection:
            tables = (await connection.execute(text("SHOW TABLES"))).all()
            if not tables:
                for statement in init_sql_statements(init_sql):
                    await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def drop_database(url: str) -> None:
    """Drop the MySQL/MariaDB database of this URL if it exists (tests and benchmarks)."""
    parsed: URL = make_url(url)
    await _on_server(parsed, f"DROP DATABASE IF EXISTS `{_database_name(parsed)}`")


def _database_name(parsed: URL) -> str:
    """The URL's database name, checked before it goes into a statement (names are not bound)."""
    name = parsed.database or ""
    if not DATABASE_NAME.match(name):
        raise StackError(f"database name {name!r} must be letters, digits and underscores")
    return name


async def _on_server(parsed: URL, statement: str) -> None:
    """Run one statement on the URL's server, outside any database (CREATE/DROP DATABASE)."""
    server = create_async_engine(parsed.set(database=""), isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await server.dispose()
