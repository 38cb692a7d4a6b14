"""An executor that its own execution does not keep alive: `AcyclicHelpers`.

graphql-core's Executor gives resolvers `info.async_helpers`, built in its constructor from two
bound methods of the executor itself: executor -> helpers -> bound method -> executor, a
reference cycle. Reference counting never frees a cycle, so every execution (each query and
mutation, each event of each subscription) left its executor and everything it made (field
details, collected fields, errors, variable values: ~60 objects) to the garbage collector. At
1,000 viewers marking a busy chat read that was ~20,000 objects a second per gateway, a young
collection every second of up to 36 ms and, as they were promoted, a middle one of ~380 ms in
the middle of the fan-out (bench/PROFILE.md, "Garbage of every execution").

Here the helpers are the same functions with the executor held weakly: nothing else refers
back to an executor, so it is freed the moment its execution is done. While it runs, its own
frames hold it, so the weak reference is always alive when a resolver uses the helpers.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Sequence
from types import MethodType
from typing import Any, cast

from graphql import GraphQLResolveInfoHelpers
from graphql.execution import Executor


class AcyclicHelpers(Executor[Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = weak_helpers(self, self.async_helpers)


def weak_helpers(
    executor: Executor[Any], helpers: GraphQLResolveInfoHelpers
) -> GraphQLResolveInfoHelpers:
    """`helpers` (graphql-core's, bound to `executor`) calling their functions on a weak
    reference to it instead."""
    executor_ref = weakref.ref(executor)
    gather = cast("MethodType", helpers.gather).__func__
    track = cast("MethodType", helpers.track).__func__

    def alive() -> Executor[Any]:
        found = executor_ref()
        if found is None:  # cannot happen while it executes (see the module's text)
            raise RuntimeError("async helpers used after their execution ended")
        return found

    def gather_weakly(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return cast("Awaitable[list[Any]]", gather(alive(), values))

    def track_weakly(values: Sequence[Any]) -> None:
        track(alive(), values)

    return GraphQLResolveInfoHelpers(gather=gather_weakly, track=track_weakly)
