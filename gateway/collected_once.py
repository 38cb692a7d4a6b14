"""A subscription's selections collected once, not once per event.

To complete an object graphql-core collects the fields its selection asks for that type
(`collect_subfields`: fragments spread, type conditions tested, `@skip`/`@include` applied).
It memoizes that per executor, and each event of a subscription runs on a new executor
(gateway/shared_events.py), so every event collects the whole selection again: for the web
app's `chatEvents` (a union of fifteen types, fragments inside fragments) that walk was about a
fifth of a gateway's CPU under the events bench's read receipts (py-spy, bench/PROFILE.md).

`CollectedOnce` keeps what a subscription's per-event executors collected in one dict they
share (`collected`, set by the subscription's SubscriptionEvents on those it makes), keyed by
the type and the identity of the field nodes, which belong to the operation's document and live
as long as it: the dict is bounded by the document's size. Every subscription holding the same
parsed operation shares that dict too, unless a directive (`@skip`/`@include`) makes the collection
depend on its variables (gateway/shared_events.py `collected_memo`): thousands of idle web apps
hold one, not ~2 KB each. Field groups with `@defer` or fragment variables (per-execution
objects) are collected as before.

`collect_subfields` is graphql-core's executor method (3.3, pinned in requirements.lock; marked
private there, like the methods gateway/plain_fields.py overrides): tests/gateway/
test_plain_fields.py checks its signature.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLObjectType
from graphql.execution import Executor
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList

Key = tuple[GraphQLObjectType, tuple[int, ...]]


class CollectedOnce(Executor[Any]):
    # Shared by a subscription's per-event executors; None elsewhere (queries, mutations).
    collected: dict[Key, CollectedFields] | None = None

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        memo = self.collected
        if memo is None:
            return super().collect_subfields(return_type, field_details_list)
        nodes = []
        for details in field_details_list:
            if details.defer_usage is not None or details.fragment_variable_values is not None:
                return super().collect_subfields(return_type, field_details_list)
            nodes.append(id(details.node))
        key = (return_type, tuple(nodes))
        found = memo.get(key)
        if found is None:
            found = memo[key] = super().collect_subfields(return_type, field_details_list)
        return found
