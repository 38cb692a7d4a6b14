"""Accounts in GraphQL: sessions listed and signed out, password changed, account deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gateway import described
from gateway.clients import SessionData
from gateway.context import Context
from gateway.errors import (
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationError,
    unauthenticated_error,
)
from gateway.ids import to_global_id
from gateway.mutation_support import run_action
from gateway.types import parse_datetime

Info = strawberry.Info[Context, None]


@strawberry.type(description="One sign-in of yours: a browser or app holding a token.")
class Session:
    id: strawberry.ID
    device: str = strawberry.field(description="From the User-Agent it signed in with.")
    created_at: datetime
    last_used_at: datetime
    current: bool = strawberry.field(description="The session of the token making this request.")

    @classmethod
    def from_data(cls, data: SessionData) -> Session:
        return cls(
            id=strawberry.ID(data["id"]),
            device=data["device"],
            created_at=parse_datetime(data["created_at"]),
            last_used_at=parse_datetime(data["last_used_at"]),
            current=data["current"],
        )


@strawberry.type
class SignedOut:
    signed_out: int = strawberry.field(description="How many sessions ended.")


@strawberry.type
class PasswordChanged:
    signed_out: int = strawberry.field(description="Your other sessions, now signed out.")


@strawberry.type
class AccountDeleted:
    user_id: strawberry.ID


SignOutResult = Annotated[SignedOut | NotFound | Unauthenticated, strawberry.union("SignOutResult")]
ChangePasswordResult = Annotated[
    PasswordChanged | ValidationError | RateLimited | Unauthenticated,
    strawberry.union("ChangePasswordResult"),
]
DeleteAccountResult = Annotated[
    AccountDeleted | ValidationError | RateLimited | Unauthenticated,
    strawberry.union("DeleteAccountResult"),
]
SIGN_OUT_ERRORS = (NotFound, Unauthenticated)
PASSWORD_ERRORS = (ValidationError, RateLimited, Unauthenticated)


@strawberry.type
class AccountQuery:
    @described.field("Your active sessions, most recently used first.")
    async def sessions(self, info: Info) -> list[Session]:
        if info.context.viewer is None:
            raise unauthenticated_error()
        return [Session.from_data(row) for row in await info.context.account().sessions()]


@strawberry.type
class AccountMutation:
    @described.mutation("Sign out this device: its token stops working everywhere at once.")
    async def sign_out(self, info: Info) -> SignOutResult:
        async def action() -> SignedOut:
            return SignedOut(signed_out=await info.context.account().sign_out())

        result: SignOutResult = await run_action(info, SIGN_OUT_ERRORS, action)
        return result

    @described.mutation("Sign out every session of yours, this one included.")
    async def sign_out_everywhere(self, info: Info) -> SignOutResult:
        async def action() -> SignedOut:
            return SignedOut(signed_out=await info.context.account().sign_out_everywhere())

        result: SignOutResult = await run_action(info, SIGN_OUT_ERRORS, action)
        return result

    @described.mutation("End one of your sessions (see `sessions`).")
    async def end_session(self, info: Info, id: strawberry.ID) -> SignOutResult:
        async def action() -> SignedOut:
            return SignedOut(signed_out=await info.context.account().end_session(str(id)))

        result: SignOutResult = await run_action(info, SIGN_OUT_ERRORS, action)
        return result

    @described.mutation("Change your password (the old one is required); signs out the others.")
    async def change_password(
        self, info: Info, old_password: str, new_password: str
    ) -> ChangePasswordResult:
        async def action() -> PasswordChanged:
            count = await info.context.account().change_password(old_password, new_password)
            return PasswordChanged(signed_out=count)

        result: ChangePasswordResult = await run_action(info, PASSWORD_ERRORS, action)
        return result

    @described.mutation(
        "Delete your account (your password confirms it): login and password are erased, you"
        " leave every chat, your messages stay under the name 'Deleted user'."
    )
    async def delete_account(self, info: Info, password: str) -> DeleteAccountResult:
        async def action() -> AccountDeleted:
            viewer_id = info.context.viewer.user_id if info.context.viewer else 0
            await info.context.account().delete_account(password)
            return AccountDeleted(user_id=strawberry.ID(to_global_id("User", viewer_id)))

        result: DeleteAccountResult = await run_action(info, PASSWORD_ERRORS, action)
        return result
