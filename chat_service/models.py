"""chat_service's ORM mapping of its tables (mychat.tables), written by chat_service alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase, Mapped

from mychat import tables
from mychat.tables import CHAT_NAME_MAX, MESSAGE_TEXT_MAX

__all__ = ["CHAT_NAME_MAX", "MESSAGE_TEXT_MAX", "Chat", "ChatMember", "Message"]


class Base(DeclarativeBase):
    metadata = tables.metadata


class Chat(Base):
    __table__ = tables.chats

    id: Mapped[int]
    name: Mapped[str]
    created_by: Mapped[int | None]
    created_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    last_message_id: Mapped[int | None]


class ChatMember(Base):
    __table__ = tables.chat_members

    chat_id: Mapped[int]
    user_id: Mapped[int]
    role: Mapped[str]
    joined_at: Mapped[datetime]
    last_read_message_id: Mapped[int]


class Message(Base):
    __table__ = tables.messages

    id: Mapped[int]
    chat_id: Mapped[int]
    sender_id: Mapped[int]
    text: Mapped[str]
    client_id: Mapped[str | None]
    created_at: Mapped[datetime]


chats_table = tables.chats
members_table = tables.chat_members
messages_table = tables.messages
users_table = tables.users  # read only: auth_service writes it
