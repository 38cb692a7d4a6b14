"""Memory under repeated rounds of the issue 13 attacks stays flat (a leak or an unbounded
cache would grow with every round). Measured with tracemalloc (the Python heap, free of the
allocator's retention); RSS is reported alongside."""

from __future__ import annotations

import gc
import resource
import tracemalloc

from tests.gateway.conftest import GRAPHQL, Gateway

ROUNDS = 6
SMALL_PER_ROUND = 40
LARGE_PER_ROUND = 10


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _attack_documents(round_number: int) -> list[str]:
    """Distinct documents each round: cacheable-sized ones (they fill the caches) and large
    ones near the token limit (the kind that filled 512 cache entries of ~1 MB each)."""
    documents = []
    for n in range(SMALL_PER_ROUND):
        small = " ".join(f"r{round_number}n{n}x{k}: me {{ id nickname }}" for k in range(25))
        documents.append("{ " + small + " }")
    for n in range(LARGE_PER_ROUND):
        large = " ".join(  # 130 x 14 tokens: under the 2,000-token limit, ~17,000 characters
            f"r{round_number}n{n}_{'long_alias_name_' * 6}{k}: chats(first: 1) "
            "{ edges { cursor } }"
            for k in range(130)
        )
        documents.append("{ " + large + " }")
    return documents


async def _round(gateway: Gateway, token: str, round_number: int) -> None:
    for document in _attack_documents(round_number):
        response = await gateway.client.post(
            GRAPHQL, json={"query": document}, headers={"authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
    for body in (b"null", b"1", b'"s"', b"[]"):
        response = await gateway.client.post(
            GRAPHQL, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
    for n in range(50):
        forged = f"eyJhbGciOiJIUzI1NiJ9.{round_number}x{n}.sig"
        await gateway.client.post(
            GRAPHQL, json={"query": "{ me { id } }"}, headers={"authorization": f"Bearer {forged}"}
        )


async def test_memory_is_flat_over_repeated_attack_rounds(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    gc.collect()
    tracemalloc.start()
    try:
        heap, rss = [], []
        for round_number in range(ROUNDS):
            await _round(gateway, alice.token, round_number)
            gc.collect()
            heap.append(tracemalloc.get_traced_memory()[0] / 2**20)
            rss.append(_rss_mib())
    finally:
        tracemalloc.stop()
    # The caches are full after a few rounds; from then on a round must not add memory.
    late_growth = heap[-1] - heap[ROUNDS // 2]
    report = f"heap MiB per round {[round(h, 1) for h in heap]}, RSS {[round(r) for r in rss]}"
    assert late_growth < 8, report
