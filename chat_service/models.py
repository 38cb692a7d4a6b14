"""Chats, their members and messages, written by chat_service alone."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auth_service.models import Id, User
from mychat.db import Base, UTCDateTime, utc_now

CHAT_NAME_MAX = 100
MESSAGE_TEXT_MAX = 4000
CLIENT_ID_MAX = 36


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (
        Index("ix_chats_last_activity", "last_activity_at", "id"),
        # Serves the foreign key (InnoDB would otherwise add an index the models do not name).
        Index("ix_chats_created_by", "created_by"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(CHAT_NAME_MAX))
    created_by: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Bumped by every message; orders "newest activity first" without scanning messages.
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    last_message_id: Mapped[int | None] = mapped_column(Id, nullable=True)


class ChatMember(Base):
    __tablename__ = "chat_members"
    __table_args__ = (Index("ix_chat_members_user_id", "user_id"),)

    chat_id: Mapped[int] = mapped_column(
        Id, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), default="member")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # The last message id this member has read; drives unread counts.
    last_read_message_id: Mapped[int] = mapped_column(Id, default=0)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_chat_id_id", "chat_id", "id"),
        UniqueConstraint("sender_id", "client_id", name="uq_messages_sender_id_client_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(Id, ForeignKey("chats.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(CLIENT_ID_MAX), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


# The tables behind the models, for Core statements on the hot paths (history pages, sends):
# plain rows, no ORM entity loading or unit-of-work bookkeeping.
chats_table = cast(Table, Chat.__table__)
members_table = cast(Table, ChatMember.__table__)
messages_table = cast(Table, Message.__table__)
users_table = cast(Table, User.__table__)  # read only: auth_service writes it
