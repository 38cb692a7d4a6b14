"""The send path: checks, the SQL that stores a group of sends (`store_group`), and `Sender`,
which runs groups from a group commit (chat_service.group_commit) in transactions.

`store_group(connection, sends)` in the caller's transaction:

1. the row locks of the group's chats, in id order (access.lock_chats: no deadlock between
   lanes or processes; on SQLite the unit of work's BEGIN IMMEDIATE already holds the write
   lock), before anything else: every membership change of those chats waits for this
   transaction or is seen by it; then the senders' memberships of those chats (a locking read
   on MySQL: the latest, not a snapshot). A chat without a row does not exist (404); a sender
   who is not a member is refused (403).
2. one INSERT of every accepted send, all dated once under the locks (a chat's messages are
   dated in id order), and each chat's newest message and activity time. A client_id already
   used fails on the unique index (sender_id, client_id): a send that is alone replays the
   stored message, or gets 409 if it went to another chat; in a group, `RetryAlone` asks the
   caller to roll back and store each send alone.

`Sender` commits if anything was stored (else rolls back), then publishes the message_added
events in id order, before the senders get their answers; refusals and replays publish
nothing. A connection that failed or was cancelled mid-transaction is not reused (SQLAlchemy
invalidates it; the server undoes its open transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat_service.access import chat_not_found, lock_chats, not_a_member
from chat_service.group_commit import GroupCommit
from chat_service.messages import MESSAGE_COLUMNS
from chat_service.unit_of_work import publish_events
from chat_service.validation import check_trimmed_text
from chat_service.views import MessageView
from mychat.broker import Broker
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError, RateLimited
from mychat.ratelimit import RateLimiter
from mychat.tables import MESSAGE_TEXT_MAX, chat_members, chats, messages

# Transactions in flight per process: few enough that, under load, each carries many sends;
# more than one, so that a lane waiting for a row lock held by another transaction (a leave, an
# add) does not hold up the other chats' sends. Only if every lane waits so does everything wait.
LANES = 4
# Sends per transaction: bounds its lock time and its packet (a text is at most 4,000 chars).
MAX_GROUP = 64

_m, _c, _cm = messages.c, chats.c, chat_members.c


def check_message_text(text: str) -> str:
    return check_trimmed_text(text, field="text", label="Message text", max_length=MESSAGE_TEXT_MAX)


def check_client_id(client_id: str | None) -> str | None:
    """A client-made UUID, stored in its canonical lower-case form so retries match."""
    if client_id is None:
        return None
    try:
        return str(uuid.UUID(client_id))
    except ValueError as error:
        raise ApiError(
            400, "validation_error", "client_id must be a UUID", field="client_id"
        ) from error


def check_send_rate(limiter: RateLimiter, user_id: int) -> None:
    retry_after = limiter.retry_after(str(user_id))
    if retry_after > 0:
        raise RateLimited("Too many messages; slow down", retry_after)


def client_id_used_elsewhere() -> ApiError:
    return ApiError(
        409,
        "conflict",
        "This client_id was already used for a message in another chat",
        field="client_id",
    )


def _interrupted() -> ApiError:
    return ApiError(503, "unavailable", "The send was interrupted; try again")


@dataclass(frozen=True, slots=True)
class Send:
    """One checked send (text trimmed, client_id canonical)."""

    chat_id: int
    sender_id: int
    sender_nickname: str  # from the verified token (nicknames never change)
    text: str
    client_id: str | None


# A send's answer: (the message, whether this send stored it) or why not (a refusal, or the
# error that failed it).
Outcome = tuple[MessageView, bool] | Exception


class RetryAlone(Exception):
    """A client_id conflict in a group: roll the group back and store each of its sends alone."""


# On MySQL/MariaDB, statements naming many chats use the primary key: with many ids in a small
# table MariaDB scans the whole table otherwise, and a locking scan locks every row it reads,
# rows of other lanes' chats out of id order (deadlocks).
_PRIMARY = "FORCE INDEX (PRIMARY)"
_MEMBERSHIPS = (
    select(_cm.chat_id, _cm.user_id)
    .with_hint(chat_members, _PRIMARY, "mysql")
    .where(
        _cm.chat_id.in_(bindparam("chat_ids", expanding=True)),
        _cm.user_id.in_(bindparam("user_ids", expanding=True)),
    )
    .with_for_update(read=True)
)
_INSERT = insert(messages)
_INSERT_RETURNING = _INSERT.returning(_m.id, sort_by_parameter_order=True)
# Each chat's newest message: its own, under the row lock. Not MAX(id): MariaDB reads every
# message of the chat for that; this reads one.
_NEWEST = select(_m.id).where(_m.chat_id == _c.id).order_by(_m.id.desc()).limit(1).scalar_subquery()
_BUMP = (
    update(chats)
    .with_hint(_PRIMARY, dialect_name="mysql")
    .where(_c.id.in_(bindparam("chat_ids", expanding=True)))
    .values(last_message_id=_NEWEST, last_activity_at=bindparam("at"))
)
# A locking read sees rows committed after this transaction's snapshot (InnoDB); shared, as
# the failed INSERT already holds a shared lock on that index entry.
_STORED = (
    select(*MESSAGE_COLUMNS)
    .where(_m.sender_id == bindparam("sender_id"), _m.client_id == bindparam("client_id"))
    .with_for_update(read=True)
)


async def _insert(connection: AsyncConnection, rows: list[dict[str, object]]) -> list[int]:
    """Insert the rows in order; their new ids in the same order."""
    if connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        return list((await connection.execute(_INSERT_RETURNING, rows)).scalars())
    ids = []  # MySQL 8: no RETURNING, one statement per row
    for row in rows:
        key = (await connection.execute(_INSERT, row)).inserted_primary_key
        assert key is not None  # an INSERT's result
        ids.append(key[0])
    return ids


async def store_group(connection: AsyncConnection, sends: Sequence[Send]) -> list[Outcome]:
    """Store a group of sends in the caller's transaction (see the module docstring); an
    outcome per send, in order. Commits nothing."""
    chat_ids = sorted({send.chat_id for send in sends})
    existing = await lock_chats(connection, chat_ids)
    params = {"chat_ids": chat_ids, "user_ids": sorted({send.sender_id for send in sends})}
    members = {
        (chat_id, user_id) for chat_id, user_id in await connection.execute(_MEMBERSHIPS, params)
    }
    refusals: dict[int, Exception] = {}  # by index in the group
    accepted: list[Send] = []
    for index, send in enumerate(sends):
        if send.chat_id not in existing:
            refusals[index] = chat_not_found()
        elif (send.chat_id, send.sender_id) not in members:
            refusals[index] = not_a_member()
        else:
            accepted.append(send)
    if not accepted:
        return list(refusals.values())
    now = utc_now()  # under the locks: a chat's messages are dated in id order
    rows: list[dict[str, object]] = [
        {
            "chat_id": send.chat_id,
            "sender_id": send.sender_id,
            "text": send.text,
            "client_id": send.client_id,
            "created_at": now,
        }
        for send in accepted
    ]
    try:
        ids = iter(await _insert(connection, rows))
    except IntegrityError:
        # A client_id sent before (a retry) or concurrently (the unique index decided).
        if len(sends) > 1:
            raise RetryAlone from None
        replayed = await _replay(connection, sends[0])
        if replayed is None:  # not a client_id conflict after all
            raise
        return [replayed]
    written = sorted({send.chat_id for send in accepted})
    await connection.execute(_BUMP, {"chat_ids": written, "at": now})
    outcomes: list[Outcome] = []
    for index, send in enumerate(sends):
        if index in refusals:
            outcomes.append(refusals[index])
            continue
        message = MessageView(
            next(ids),
            send.chat_id,
            send.sender_id,
            send.sender_nickname,
            send.text,
            now,
            send.client_id,
        )
        outcomes.append((message, True))
    return outcomes


async def _replay(connection: AsyncConnection, send: Send) -> Outcome | None:
    """The message stored earlier with this send's client_id (created False), 409 if it went
    to another chat, None if there is none."""
    if send.client_id is None:
        return None
    params = {"sender_id": send.sender_id, "client_id": send.client_id}
    row = (await connection.execute(_STORED, params)).first()
    if row is None:
        return None
    stored = MessageView(*row)
    if stored.chat_id != send.chat_id:
        return client_id_used_elsewhere()
    return stored, False


class Sender:
    """Stores sends through a group commit, each group in one transaction of `engine`."""

    def __init__(self, engine: AsyncEngine, broker: Broker) -> None:
        self._engine = engine
        self._broker = broker
        self.queue: GroupCommit[Send, Outcome] = GroupCommit(
            self._store, lanes=LANES, max_group=MAX_GROUP, interrupted=_interrupted, name="sends"
        )
        self.transactions = 0  # begun so far (tests check that sends share them)

    async def send(
        self, chat_id: int, sender_id: int, sender_nickname: str, text: str, client_id: str | None
    ) -> tuple[MessageView, bool]:
        """Store a message and publish it; (message, created). A repeated client_id returns the
        stored message (created False), nothing published."""
        send = Send(
            chat_id,
            sender_id,
            sender_nickname,
            check_message_text(text),
            check_client_id(client_id),
        )
        outcome = await self.queue.submit(send)  # an Exception outcome is raised by the queue
        assert isinstance(outcome, tuple)
        return outcome

    async def close(self) -> None:
        """Wait for the transactions in flight (the callers of their sends are waiting too)."""
        await self.queue.close()

    async def _store(self, sends: list[Send]) -> list[Outcome]:
        try:
            outcomes = await self._transaction(sends)
        except RetryAlone:
            outcomes = [await self._alone(send) for send in sends]
        created = [
            Event(EventKind.MESSAGE_ADDED, outcome[0].chat_id, {"message": outcome[0].to_json()})
            for outcome in outcomes
            if isinstance(outcome, tuple) and outcome[1]
        ]
        await publish_events(self._broker, created)
        return outcomes

    async def _alone(self, send: Send) -> Outcome:
        try:
            (outcome,) = await self._transaction([send])
        except Exception as error:  # the driver's or the database's: this send failed
            return error
        return outcome

    async def _transaction(self, sends: list[Send]) -> list[Outcome]:
        self.transactions += 1
        async with self._engine.connect() as connection, connection.begin() as transaction:
            outcomes = await store_group(connection, sends)
            if not any(isinstance(outcome, tuple) and outcome[1] for outcome in outcomes):
                await transaction.rollback()  # refusals and replays only: nothing to keep
        return outcomes
