"""Message search in GraphQL: `searchMessages`, the words of a query in the caller's own chats,
newest first, as a Relay connection (chat_service/search.py does the searching)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway import described
from gateway.context import Context
from gateway.errors import NotAMember, NotFound, Unauthenticated, ValidationError
from gateway.ids import InvalidGlobalId, database_id, message_cursor_id
from gateway.mutation_support import run_action
from gateway.queries import load_chat
from gateway.types import Chat, Message, PageInfo

Info = strawberry.Info[Context, None]
DEFAULT_SEARCH_PAGE = 20
MAX_SEARCH_PAGE = 50  # chat_service's SEARCH_PAGE_MAX


@strawberry.type
class MessageSearchEdge:
    cursor: str
    node: Message
    chat_db_id: strawberry.Private[int]

    @described.field("The chat the message is in (null if you have left it since).")
    async def chat(self, info: Info) -> Chat | None:
        return await load_chat(info, self.chat_db_id)


@strawberry.type(description="Messages matching a search, newest first.")
class MessageSearchConnection:
    edges: list[MessageSearchEdge]
    page_info: PageInfo
    terms: list[str] = strawberry.field(
        description="The words searched for, lower-cased, as the index matched them: each"
        " matched a word of the message or its start (mark them in the results)."
    )


SearchMessagesResult = Annotated[
    MessageSearchConnection | ValidationError | NotFound | NotAMember | Unauthenticated,
    strawberry.union("SearchMessagesResult"),
]


def _invalid(message: str, field: str) -> ValidationError:
    return ValidationError(message=message, code="validation_error", field=field)


@strawberry.type
class SearchQuery:
    @described.field(
        "Search the messages of your chats (or of one, `chatId`) for every word of `query`:"
        " whole words or their starts, any case; newest first. `first` at most"
        f" {MAX_SEARCH_PAGE}; `after` is the last edge's cursor."
    )
    async def search_messages(
        self,
        info: Info,
        query: str,
        first: int = DEFAULT_SEARCH_PAGE,
        after: str | None = None,
        chat_id: strawberry.ID | None = None,
    ) -> SearchMessagesResult:
        async def action() -> MessageSearchConnection | ValidationError:
            if not 1 <= first <= MAX_SEARCH_PAGE:
                return _invalid(f"first must be between 1 and {MAX_SEARCH_PAGE}", "first")
            try:
                before = None if after is None else message_cursor_id(after)
            except InvalidGlobalId:
                return _invalid("Not a search cursor", "after")
            chat_db_id = None if chat_id is None else database_id(chat_id, "Chat")
            page = await info.context.chat().search(query, first, before, chat_db_id)
            edges = [
                MessageSearchEdge(
                    cursor=str(row["id"]), node=Message.from_data(row), chat_db_id=row["chat_id"]
                )
                for row in page["messages"]
            ]
            return MessageSearchConnection(
                edges=edges,
                page_info=PageInfo(
                    has_next_page=page["has_more"],
                    has_previous_page=after is not None,
                    start_cursor=edges[0].cursor if edges else None,
                    end_cursor=edges[-1].cursor if edges else None,
                ),
                terms=page["terms"],
            )

        errors = (ValidationError, NotFound, NotAMember, Unauthenticated)
        result: SearchMessagesResult = await run_action(info, errors, action)
        return result
