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
