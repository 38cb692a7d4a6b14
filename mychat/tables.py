"""The database schema: every table, on one MetaData, as SQLAlchemy Core `Table` objects.

This module is the one description of the tables, shared by both services and by the tooling:
`mychat.db.create_schema` creates them (embedded SQLite) and a test compares them with
`db/init.sql` (what a MySQL deployment loads). It imports no service. Who writes what is a rule
of the services, not of the schema: auth_service alone writes `users` (its ORM model maps onto
the table below); chat_service alone writes `chats`, `chat_members`, `messages` and
`message_reactions`, and only reads `users` (id, nickname, nickname_key).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine

from mychat.db import UTCDateTime, utc_now
from mychat.search_words import indexed_words

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; MySQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")

LOGIN_MAX = 64
NICKNAME_MAX = 32
CHAT_NAME_MAX = 100
MESSAGE_TEXT_MAX = 4000
CLIENT_ID_MAX = 36
DIRECT_PAIR_MAX = 41  # two ids of up to 20 digits and a colon

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def nickname_key(nickname: str) -> str:
    """What nickname uniqueness and lookups compare (`users.nickname_key`): NFC, trimmed,
    casefolded. Both services compute it: auth_service when it writes a user, chat_service
    when it looks one up by nickname."""
    return unicodedata.normalize("NFC", nickname).strip().casefold()


users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("login", String(LOGIN_MAX), nullable=False, unique=True),
    Column("nickname", String(NICKNAME_MAX), nullable=False),
    # casefold()ed nickname (nickname_key above): uniqueness and lookups ignore case on every
    # database. Binary collation on MySQL, so that "José" and "Jose" stay two nicknames there
    # as on SQLite.
    Column(
        "nickname_key",
        String(NICKNAME_MAX * 3).with_variant(
            mysql.VARCHAR(NICKNAME_MAX * 3, collation="utf8mb4_bin"), "mysql"
        ),
        nullable=False,
        unique=True,
    ),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utc_now),
    # Set when the account is deleted (login, nickname and password hash erased, the row kept
    # so that messages keep their sender).
    Column("deleted_at", UTCDateTime(), nullable=True),
)

SESSION_ID_LENGTH = 32
DEVICE_MAX = 120

# One row per sign-in, written by auth_service; every token carries its id (`sid`). Revoked
# rows are what every process refuses (mychat.revocation); chat_service only reads them.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(SESSION_ID_LENGTH), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("device", String(DEVICE_MAX), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utc_now),
    Column("last_used_at", UTCDateTime(), nullable=False, default=utc_now),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index("ix_sessions_user_id", "user_id"),
    Index("ix_sessions_expires_at", "expires_at"),
)

chats = Table(
    "chats",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(CHAT_NAME_MAX), nullable=False),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utc_now),
    # Bumped by every message; orders "newest activity first" without scanning messages.
    Column("last_activity_at", UTCDateTime(), nullable=False, default=utc_now),
    Column("last_message_id", Id, nullable=True),
    # A direct (one-to-one) chat's pair of members, "<lower user id>:<higher user id>"; NULL
    # for group chats. Unique: at most one direct chat per pair, even when both people start
    # it at the same moment (chat_service/direct_chats.py).
    Column("direct_pair", String(DIRECT_PAIR_MAX), nullable=True),
    Index("ix_chats_last_activity", "last_activity_at", "id"),
    UniqueConstraint("direct_pair", name="uq_chats_direct_pair"),
    # Serves the foreign key (InnoDB would otherwise add an index the schema does not name).
    Index("ix_chats_created_by", "created_by"),
)

chat_members = Table(
    "chat_members",
    metadata,
    Column("chat_id", Id, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False, default="member"),
    Column("joined_at", UTCDateTime(), nullable=False, default=utc_now),
    # The last message id this member has read; drives unread counts.
    Column("last_read_message_id", Id, nullable=False, default=0),
    Index("ix_chat_members_user_id", "user_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("chat_id", Id, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("sender_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("client_id", String(CLIENT_ID_MAX), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utc_now),
    # Set by an edit (chat_service.edits); the text column holds the current text.
    Column("edited_at", UTCDateTime(), nullable=True),
    # Set by a delete: the text is erased (''), the row stays as a tombstone in the history.
    Column("deleted_at", UTCDateTime(), nullable=True),
    # The message this one replies to (same chat, checked on send; never removed, as a delete
    # keeps a tombstone), or NULL.
    Column("reply_to_id", Id, nullable=True),
    # NULL for a message someone wrote; a system line of the history otherwise
    # (chat_service/system_lines.py): 'joined', 'left', 'removed' (sender_id is who; text the
    # owner who removed them), 'renamed' (sender_id renamed the chat, text is the new name).
    Column("kind", String(16), nullable=True),
    Index("ix_messages_chat_id_id", "chat_id", "id"),
    UniqueConstraint("sender_id", "client_id", name="uq_messages_sender_id_client_id"),
)

# Message search (chat_service/search.py): one row per message someone wrote, with its words
# tagged with its chat (mychat.search_words: `c42_deploy c42_friday`); a deleted message's row
# has no words. Written by chat_service: by its search indexer shortly after a send's commit
# (chat_service/indexing.py), and by an edit or a delete in their transactions. A full-text
# index on `words`: InnoDB FULLTEXT on MySQL/MariaDB, the FTS5 table below on SQLite. Clustered
# by chat: the rows a search reads (the matches in the caller's chats) sit together.
message_search = Table(
    "message_search",
    metadata,
    # The message's chat, copied: the rows are clustered by it.
    Column("chat_id", Id, primary_key=True, autoincrement=False),
    Column("message_id", Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("words", Text, nullable=False),
    # One row per message; serves the foreign key (InnoDB would otherwise add an index the
    # schema does not name).
    UniqueConstraint("message_id", name="uq_message_search_message_id"),
    Index("ix_message_search_words", "words", mysql_prefix="FULLTEXT").ddl_if(dialect="mysql"),
)

# SQLite's full-text index for message search: a contentless FTS5 table over
# message_search.words (it stores only the index), its rowid the message id, kept in step by
# triggers on message_search. Created by create_schema; MySQL has ix_message_search_words. The
# words come folded and tagged (mychat.search_words): `_` joins a tag to its word.
MESSAGES_FTS = "message_search_fts"
_SQLITE_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_search_fts USING fts5("
    "words, content='', tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\")",
    "CREATE TRIGGER IF NOT EXISTS message_search_fts_insert AFTER INSERT ON message_search BEGIN"
    " INSERT INTO message_search_fts(rowid, words) VALUES (new.message_id, new.words); END",
    "CREATE TRIGGER IF NOT EXISTS message_search_fts_delete AFTER DELETE ON message_search BEGIN"
    " INSERT INTO message_search_fts(message_search_fts, rowid, words)"
    " VALUES ('delete', old.message_id, old.words); END",
    "CREATE TRIGGER IF NOT EXISTS message_search_fts_update AFTER UPDATE ON message_search BEGIN"
    " INSERT INTO message_search_fts(message_search_fts, rowid, words)"
    " VALUES ('delete', old.message_id, old.words);"
    " INSERT INTO message_search_fts(rowid, words) VALUES (new.message_id, new.words); END",
)
# The first search of this project indexed messages.text directly (FTS5 external content).
_SQLITE_OLD_SEARCH_DDL = (
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TABLE IF EXISTS messages_fts",
)

REACTION_MAX = 16  # code points of one reaction (an emoji, possibly a ZWJ sequence or a flag)

# One row per person, message and emoji (a toggle inserts or deletes it). Written by
# chat_service alone (chat_service/reactions.py).
message_reactions = Table(
    "message_reactions",
    metadata,
    Column("message_id", Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # Binary collation on MySQL: two emoji are the same reaction only if they are equal.
    Column(
        "emoji",
        String(REACTION_MAX).with_variant(
            mysql.VARCHAR(REACTION_MAX, collation="utf8mb4_bin"), "mysql"
        ),
        primary_key=True,
    ),
    Column("created_at", UTCDateTime(), nullable=False, default=utc_now),
    Index("ix_message_reactions_user_id", "user_id"),
)


async def create_schema(engine: AsyncEngine) -> None:
    """Create missing tables (embedded SQLite); MySQL deployments load db/init.sql instead.

    A SQLite file made by an earlier version also gets the nullable columns added since
    (`users.deleted_at`, `messages.edited_at`, ...), so `make run` keeps working on an existing
    data folder.
    """
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        if engine.dialect.name == "sqlite":
            await connection.run_sync(_add_missing_nullable_columns)
            await connection.run_sync(_create_sqlite_search)


def _create_sqlite_search(connection: Connection) -> None:
    """The FTS5 table and its triggers; a table made now indexes the messages already stored
    (a data folder from before this search existed)."""
    existed = inspect(connection).has_table(MESSAGES_FTS)
    for statement in (*_SQLITE_OLD_SEARCH_DDL, *_SQLITE_SEARCH_DDL):
        connection.exec_driver_sql(statement)
    if not existed:
        _index_stored_messages(connection)


def _index_stored_messages(connection: Connection) -> None:
    connection.execute(message_search.delete())
    found = connection.execute(
        select(messages.c.chat_id, messages.c.id, messages.c.text).where(
            messages.c.kind.is_(None), messages.c.deleted_at.is_(None)
        )
    )
    for rows in found.partitions(1000):
        connection.execute(
            message_search.insert(),
            [
                {"chat_id": chat_id, "message_id": id_, "words": indexed_words(chat_id, text)}
                for chat_id, id_, text in rows
            ],
        )


def _add_missing_nullable_columns(connection: Connection) -> None:
    """Nullable columns added since, and the unique constraints on them (as unique indexes:
    SQLite cannot add a constraint to a table)."""
    inspector = inspect(connection)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        added = set()
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=connection.dialect)
                connection.exec_driver_sql(
                    f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                )
                added.add(column.name)
        for constraint in table.constraints:
            names = [column.name for column in getattr(constraint, "columns", ())]
            if isinstance(constraint, UniqueConstraint) and names and added.issuperset(names):
                columns = ", ".join(f'"{name}"' for name in names)
                connection.exec_driver_sql(
                    f'CREATE UNIQUE INDEX "{constraint.name}" ON "{table.name}" ({columns})'
                )
