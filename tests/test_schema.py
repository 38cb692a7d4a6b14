"""db/init.sql, loaded into MariaDB, is exactly the schema mychat.tables describes.

Both sides are reduced to the same plain description (sets and tuples) and compared whole, so
any drift fails: a table, column, type, length, precision, nullability, auto-increment, default,
collation, primary key, unique constraint, index or foreign key (with its ON DELETE) that one side
has and the other has not, or has differently.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    ForeignKeyConstraint,
    MetaData,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import create_async_engine

from mychat import tables

pytestmark = pytest.mark.mariadb

TABLE_COLLATION = "utf8mb4_unicode_ci"
DIALECT = mysql.dialect()
# MariaDB (and MySQL 5.7) print integer display widths; MySQL 8 does not. They mean nothing.
INTEGER_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|bigint)\(\d+\)")
STRING_TYPES = re.compile(r"^(varchar|char|text|tinytext|mediumtext|longtext)\b")

Description = dict[str, Any]


def _column_from_orm(column: Column[Any], table: Table) -> tuple[Any, ...]:
    compiled = column.type.compile(dialect=DIALECT).lower()
    type_name, _, collation = compiled.partition(" collate ")
    if STRING_TYPES.match(type_name):
        collation = collation or TABLE_COLLATION
    auto_increment = column is table.autoincrement_column
    return (
        column.name,
        type_name,
        column.nullable,
        auto_increment,
        column.server_default is not None,
        collation or None,
    )


def describe_orm(metadata: MetaData) -> Description:
    tables: Description = {}
    for table in metadata.tables.values():
        uniques = {
            (constraint.name, tuple(c.name for c in constraint.columns))
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        }
        tables[table.name] = {
            "columns": {_column_from_orm(column, table) for column in table.columns},
            "primary_key": tuple(column.name for column in table.primary_key.columns),
            "unique": uniques,
            # MySQL keeps a unique constraint as a unique index: count those as indexes too.
            "indexes": {
                (
                    index.name,
                    tuple(c.name for c in index.columns),
                    bool(index.unique),
                    index.dialect_options["mysql"]["prefix"],  # FULLTEXT, or None
                )
                for index in table.indexes
            }
            | {(name, columns, True, None) for name, columns in uniques},
            "foreign_keys": {
                (
                    fk.name,
                    tuple(fk.column_keys),
                    fk.referred_table.name,
                    tuple(element.column.name for element in fk.elements),
                    (fk.ondelete or "RESTRICT").upper(),
                )
                for fk in table.constraints
                if isinstance(fk, ForeignKeyConstraint)
            },
        }
    return tables


def describe_database(connection: Connection) -> Description:
    inspector = sa_inspect(connection)
    columns = connection.execute(
        text(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA, COLUMN_DEFAULT,"
            " COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
        )
    ).all()
    tables: Description = {}
    for name in inspector.get_table_names():
        pk = inspector.get_pk_constraint(name)
        tables[name] = {
            "columns": {
                (
                    column,
                    INTEGER_WIDTH.sub(r"\1", column_type.lower()),
                    nullable == "YES",
                    "auto_increment" in extra.lower(),
                    default is not None and default.upper() != "NULL",
                    collation,
                )
                for table, column, column_type, nullable, extra, default, collation in columns
                if table == name
            },
            "primary_key": tuple(pk["constrained_columns"]),
            "unique": {
                (unique["name"], tuple(unique["column_names"]))
                for unique in inspector.get_unique_constraints(name)
            },
            "indexes": {
                (
                    index["name"],
                    tuple(index["column_names"]),
                    bool(index["unique"]),
                    index.get("dialect_options", {}).get("mysql_prefix"),
                )
                for index in inspector.get_indexes(name)
            },
            "foreign_keys": {
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    fk.get("options", {}).get("ondelete", "RESTRICT").upper(),
                )
                for fk in inspector.get_foreign_keys(name)
            },
        }
    return tables


def orm_metadata() -> MetaData:
    assert {"users", "chats", "chat_members", "messages"} <= set(tables.metadata.tables)
    return tables.metadata


async def load_description(url: str) -> tuple[Description, list[tuple[str, str, str]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            described = await connection.run_sync(describe_database)
            charsets = (
                await connection.execute(
                    text(
                        "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES"
                        " WHERE TABLE_SCHEMA = DATABASE()"
                    )
                )
            ).all()
        return described, [(str(a), str(b), str(c)) for a, b, c in charsets]
    finally:
        await engine.dispose()


async def test_init_sql_matches_the_orm_models(mariadb_url: str) -> None:
    database, _ = await load_description(mariadb_url)
    models = describe_orm(orm_metadata())
    assert set(database) == set(models), "tables differ"
    for table in sorted(models):
        for aspect in models[table]:
            assert database[table][aspect] == models[table][aspect], f"{table}: {aspect} differ"
    assert database == models


async def test_tables_are_innodb_utf8mb4(mariadb_url: str) -> None:
    _, tables = await load_description(mariadb_url)
    assert {name for name, _engine, _collation in tables} == set(orm_metadata().tables)
    for name, engine, collation in tables:
        assert engine == "InnoDB", name
        assert collation == TABLE_COLLATION, name


async def test_datetimes_have_microseconds_and_ids_are_bigint(mariadb_url: str) -> None:
    database, _ = await load_description(mariadb_url)
    types = {
        (table, column[0]): column[1] for table, d in database.items() for column in d["columns"]
    }
    assert types[("messages", "created_at")] == "datetime(6)"
    assert types[("chats", "last_activity_at")] == "datetime(6)"
    assert types[("messages", "id")] == "bigint"
    assert types[("chat_members", "last_read_message_id")] == "bigint"


def _drifted(change: str) -> MetaData:
    """A copy of the models with one deliberate difference."""
    copy = MetaData(naming_convention=tables.metadata.naming_convention)
    for table in orm_metadata().tables.values():
        table.to_metadata(copy)
    messages = copy.tables["messages"]
    if change == "nullable":
        messages.c.text.nullable = True
    elif change == "length":
        copy.tables["chats"].c.name.type = mysql.VARCHAR(99)
    elif change == "precision":
        messages.c.created_at.type = mysql.DATETIME(fsp=3)
    elif change == "index":
        messages.indexes.pop()
    elif change == "ondelete":
        fk = next(c for c in messages.constraints if isinstance(c, ForeignKeyConstraint))
        fk.ondelete = "RESTRICT" if fk.ondelete == "CASCADE" else "CASCADE"
    elif change == "column":
        messages.append_column(Column("extra", mysql.INTEGER(), nullable=True))
    elif change == "collation":
        copy.tables["users"].c.nickname_key.type = mysql.VARCHAR(96)
    elif change == "fulltext":  # the search index as a plain index
        search = next(
            index
            for index in copy.tables["message_search"].indexes
            if index.name == "ix_message_search_words"
        )
        search.dialect_options["mysql"]["prefix"] = None
    return copy


@pytest.mark.parametrize(
    "change",
    ["nullable", "length", "precision", "index", "ondelete", "column", "collation", "fulltext"],
)
async def test_the_comparison_notices_drift(mariadb_url: str, change: str) -> None:
    database, _ = await load_description(mariadb_url)
    assert describe_orm(_drifted(change)) != database
