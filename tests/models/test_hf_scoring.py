"""Prefix-shared scoring: the packed prefix trees give the unshared numbers, with fewer tokens."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from haechi.models import LoglikelihoodRequest, load
from haechi.models.hf_packing import ancestor_mask, build_packs


def random_inputs(seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    stems = [[rng.randrange(50) for _ in range(rng.randrange(1, 12))] for _ in range(5)]
    return [
        rng.choice(stems) + [rng.randrange(50) for _ in range(rng.randrange(0, 6))]
        for _ in range(40)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_packs_hold_each_distinct_prefix_once(seed: int) -> None:
    inputs = [s for s in random_inputs(seed) if s]
    packs = build_packs(inputs, [1] * len(inputs), budget=10_000)
    distinct = {tuple(s[:k]) for s in inputs for k in range(1, len(s) + 1)}
    assert sum(len(p.tokens) for p in packs) == len(distinct)
    for pack in packs:  # every read-out path spells its request's tokens
        for index, nodes in pack.readouts.items():
            assert [pack.tokens[n] for n in nodes] == inputs[index][-1:]
            assert pack.depths[nodes[-1]] == len(inputs[index]) - 1


@pytest.mark.parametrize("seed", range(3))
def test_budget_splits_rows_but_keeps_long_requests_whole(seed: int) -> None:
    inputs = [s for s in random_inputs(seed) if s] + [list(range(30))]
    packs = build_packs(inputs, [1] * len(inputs), budget=12)
    assert all(len(p.tokens) <= 12 or len(p.readouts) == 1 for p in packs)
    assert sorted(i for p in packs for i in p.readouts) == list(range(len(inputs)))


def test_ancestor_mask_equals_walking_parents() -> None:
    inputs = random_inputs(7)
    (pack,) = build_packs([s for s in inputs if s], [1] * 40, budget=10_000)[:1]
    width = len(pack.tokens) + 3
    mask = ancestor_mask(pack.parents, width)
    for i in range(len(pack.tokens)):
        ancestors, j = set(), i
        while j >= 0:
            ancestors.add(j)
            j = pack.parents[j]
        assert set(torch.nonzero(mask[i]).flatten().tolist()) == ancestors
    for pad in range(len(pack.tokens), width):
        assert torch.nonzero(mask[pad]).flatten().tolist() == [pad]


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_qwen2_dir"])
def test_shared_scores_equal_unshared_scores(fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    shots = "질문: 한국의 수도는?\n답: 서울\n\n질문: 물의 끓는점은?\n답: 100도\n\n"
    requests = [
        LoglikelihoodRequest(shots + f"질문: {q}\n답:", f" {a}")
        for q in ("가장 큰 도시는?", "한글을 만든 왕은?", "What is 2+2?")
        for a in ("서울", "부산", "세종대왕", "4", "A")  # multi- and one-token answers
    ] + [LoglikelihoodRequest("", "빈 문맥"), LoglikelihoodRequest("a " * 300, "b")]
    shared = load(f"hf/{model_dir}", max_length=128, batch_size=3)
    plain = load(f"hf/{model_dir}", max_length=128, batch_size=3, prefix_sharing=False)
    got, expected = shared.loglikelihood(requests), plain.loglikelihood(requests)
    for a, b in zip(got, expected, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-5)
        assert (a.is_greedy, a.n_tokens) == (b.is_greedy, b.n_tokens)
    assert plain.stats.forwarded_tokens == plain.stats.naive_tokens
    assert shared.stats.naive_tokens == plain.stats.naive_tokens
    assert shared.stats.forwarded_tokens * 3 < shared.stats.naive_tokens


def test_one_token_continuations_cost_one_context(tiny_llama_dir: Path) -> None:
    context = "다음 중 정답을 고르시오. 한국의 수도는 어디인가?\nA. 서울\nB. 부산\nC. 대구\nD. 인천\n정답:"
    model = load(f"hf/{tiny_llama_dir}")
    model.loglikelihood([LoglikelihoodRequest(context, f" {c}") for c in "ABCD"])
    tokenizer = model.tokenizer
    context_tokens = len(tokenizer(context).input_ids)
    assert model.stats.forwarded_tokens <= context_tokens + 1
    assert model.stats.naive_tokens >= 4 * context_tokens


def test_padding_stays_within_a_tenth_of_the_floor(tiny_llama_dir: Path) -> None:
    """HellaSwag-like: each document's few-shot context is drawn apart, so its tree has its
    own length and packed rows differ; padding them all to a batch's longest used to cost
    1.2x the floor. Counted at the embedding, every position forwarded stays <= 1.10x."""
    from haechi.models.hf_scoring import TokenPair, model_input, score_pairs
    from haechi.models.token_floor import unique_prefix_tokens

    rng = random.Random(0)
    pairs = []
    for _ in range(40):
        context = [1] + [rng.randrange(3, 300) for _ in range(rng.randrange(60, 200))]
        pairs += [TokenPair(context, [rng.randrange(3, 300) for _ in range(rng.randrange(3, 12))])
                  for _ in range(4)]  # fmt: skip
    model = load(f"hf/{tiny_llama_dir}", dtype="float32").model  # type: ignore[attr-defined]
    seen: list[int] = []
    hook = model.get_input_embeddings().register_forward_hook(
        lambda module, args, out: seen.append(args[0].numel())
    )
    try:
        scored = score_pairs(model, pairs, max_length=1000, batch_size=8,
                             device=torch.device("cpu"), pack_tokens=256)  # fmt: skip
    finally:
        hook.remove()
    floor = unique_prefix_tokens([model_input(p, 1000) for p in pairs])
    assert sum(seen) == scored.forwarded + scored.padding
    assert sum(seen) <= 1.10 * floor
    assert scored.forwarded < 1.05 * floor  # the packing itself shares almost everything


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_qwen2_dir"])
def test_chained_rows_score_as_unshared(fixture: str, request: pytest.FixtureRequest) -> None:
    """MMLU-like: every document shares long shots, more than a row holds; rows after the
    first reuse the shots' cached keys and values, and score as one request at a time."""
    from haechi.models.hf_scoring import TokenPair, model_input, score_pairs
    from haechi.models.token_floor import unique_prefix_tokens

    rng = random.Random(1)
    shots = [rng.randrange(3, 300) for _ in range(120)]
    pairs = []
    for doc in range(30):
        question = shots[: 100 + doc % 3] + [rng.randrange(3, 300) for _ in range(20)]
        pairs += [TokenPair(question, [rng.randrange(3, 300) for _ in range(1 + c)])
                  for c in range(4)]  # fmt: skip
    model = load(f"hf/{request.getfixturevalue(fixture)}", dtype="float32").model  # type: ignore[attr-defined]
    options = dict(max_length=1000, batch_size=4, device=torch.device("cpu"), pack_tokens=64)
    shared = score_pairs(model, pairs, **options)  # type: ignore[arg-type]
    plain = score_pairs(model, pairs, share_prefixes=False, **options)  # type: ignore[arg-type]
    for a, b in zip(shared.results, plain.results, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-5)
        assert (a.is_greedy, a.n_tokens) == (b.is_greedy, b.n_tokens)
    floor = unique_prefix_tokens([model_input(p, 1000) for p in pairs])
    packs = build_packs(
        [model_input(p, 1000) for p in pairs], [len(p.continuation) for p in pairs], 250
    )
    assert sum(p.chained for p in packs) >= 4  # the shots would run in each of these rows
    assert shared.forwarded + shared.padding <= 1.01 * floor
