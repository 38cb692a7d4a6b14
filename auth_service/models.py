"""auth_service's ORM mapping of the shared users table (mychat.tables.users).

auth_service is the only writer of `users`; chat_service reads it through the Core table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase, Mapped

from mychat import tables


class Base(DeclarativeBase):
    metadata = tables.metadata


class User(Base):
    __table__ = tables.users

    id: Mapped[int]
    login: Mapped[str]
    nickname: Mapped[str]
    nickname_key: Mapped[str]  # mychat.tables.nickname_key(nickname)
    password_hash: Mapped[str]
    created_at: Mapped[datetime]
    # Set when the account is deleted: login, nickname and password hash are erased then; the
    # row stays so that the user's messages keep a sender ("Deleted user").
    deleted_at: Mapped[datetime | None]


class Session(Base):
    """One sign-in: its token carries the id (`sid`); revoked_at set signs it out everywhere."""

    __table__ = tables.sessions

    id: Mapped[str]
    user_id: Mapped[int]
    device: Mapped[str]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
