"""The data-parallel layout: whole prefix trees per shard and per chunk, balanced work."""

from __future__ import annotations

import random

from haechi.evaluate.shards import prefix_text, shard_chunks
from haechi.models import ChatMessage, GenerationRequest, LoglikelihoodRequest
from haechi.models.token_floor import prefix_order, unique_prefix_tokens


def documents(n: int, choices: int = 4, order: int = 0) -> list[LoglikelihoodRequest]:
    """``n`` documents of ``choices`` requests each, all sharing a few-shot block, in a
    shuffled order (``order`` seeds it), as several tasks' requests arrive."""
    lengths = random.Random(n)
    shots = "질문: 하늘은 무슨 색인가?\n답: 파란색\n\n"
    contexts = [
        f"{shots}질문: 문서 {d}번의 내용은 {'가나다' * lengths.randint(1, 9)}?\n답:"
        for d in range(n)
    ]
    requests = [LoglikelihoodRequest(ctx, f" {c}번") for ctx in contexts for c in range(choices)]
    random.Random(order).shuffle(requests)
    return requests


def test_every_request_runs_once_and_a_documents_choices_stay_together() -> None:
    requests = documents(50)
    chunks = shard_chunks([prefix_text(r) for r in requests], replicas=3, chunk=16)
    indices = [i for c in chunks for i in c.indices]
    assert sorted(indices) == list(range(len(requests)))
    assert {c.replica for c in chunks} == {0, 1, 2}
    assert all(len(c.indices) <= 16 for c in chunks)
    # a document's four choices never straddle a chunk (so never a replica): with a window
    # of a quarter chunk, a cut can always move to a document boundary
    where = {i: n for n, c in enumerate(chunks) for i in c.indices}
    by_context: dict[str, set[int]] = {}
    for i, r in enumerate(requests):
        by_context.setdefault(r.context, set()).add(where[i])
    assert all(len(found) == 1 for found in by_context.values())


def test_replicas_get_about_equal_work() -> None:
    requests = documents(200, order=1)
    texts = [prefix_text(r) for r in requests]
    chunks = shard_chunks(texts, replicas=4, chunk=256)
    work = [0, 0, 0, 0]
    for c in chunks:
        work[c.replica] += unique_prefix_tokens(texts[i].encode() for i in c.indices)
    assert max(work) < 1.1 * min(work), work


def test_layout_is_deterministic_and_independent_of_request_order() -> None:
    requests = documents(30)
    texts = [prefix_text(r) for r in requests]
    first = shard_chunks(texts, replicas=2, chunk=10)
    assert shard_chunks(texts, replicas=2, chunk=10) == first
    shuffled = documents(30, order=7)  # same requests, another order
    again = shard_chunks([prefix_text(r) for r in shuffled], replicas=2, chunk=10)
    assert [[shuffled[i] for i in c.indices] for c in again] == [
        [requests[i] for i in c.indices] for c in first
    ]


def test_fewer_requests_than_replicas() -> None:
    chunks = shard_chunks(["a", "b"], replicas=4, chunk=8)
    assert sorted(i for c in chunks for i in c.indices) == [0, 1]
    assert shard_chunks([], replicas=2, chunk=8) == []


def test_chats_sort_by_their_messages_in_order() -> None:
    system = ChatMessage("system", "너는 도우미다.")
    a = GenerationRequest(messages=(system, ChatMessage("user", "안녕")))
    b = GenerationRequest(messages=(system, ChatMessage("user", "안녕하세요")))
    other = GenerationRequest(messages=(ChatMessage("user", "너는 도우미다."),))
    assert prefix_text(b).startswith(prefix_text(a))
    assert not prefix_text(other).startswith(prefix_text(a)[:10])


def test_prefix_order_walks_the_tree() -> None:
    walk = prefix_order(["abd", "abc", "b", "ab"])
    assert walk == [(3, 0), (1, 2), (0, 2), (2, 0)]
    assert unique_prefix_tokens([[1, 2, 3], [1, 2, 4], [1, 2], [5]]) == 5
