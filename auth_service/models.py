"""The users table, written by auth_service alone (chat_service only reads it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from mychat.db import Base, UTCDateTime, utc_now

# SQLite only auto-increments INTEGER PRIMARY KEY; MySQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")

LOGIN_MAX = 64
NICKNAME_MAX = 32


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(LOGIN_MAX), unique=True)
    nickname: Mapped[str] = mapped_column(String(NICKNAME_MAX))
    # casefold()ed nickname: uniqueness and lookups ignore case on every database. Binary
    # collation on MySQL, so that "José" and "Jose" stay two nicknames there as on SQLite.
    nickname_key: Mapped[str] = mapped_column(
        String(NICKNAME_MAX * 3).with_variant(
            mysql.VARCHAR(NICKNAME_MAX * 3, collation="utf8mb4_bin"), "mysql"
        ),
        unique=True,
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Set when the account is deleted: login, nickname and password hash are erased then, the
    # row stays so that the user's messages keep a sender ("deleted user").
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


SESSION_ID_LENGTH = 32
DEVICE_MAX = 120


class Session(Base):
    """One sign-in: its token carries the id (`sid`); revoked_at set signs it out everywhere."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_id", "user_id"),
        Index("ix_sessions_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(SESSION_ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    device: Mapped[str] = mapped_column(String(DEVICE_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
