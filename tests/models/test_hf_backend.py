"""The hf backend against plain forward passes computed here, on tiny random models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from haechi.errors import InputError
from haechi.models import ChatMessage, GenerationRequest, LoglikelihoodRequest, load

PAIRS = [
    ("대한민국의 수도는", " 서울입니다."),
    ("질문: 물은 몇 도에서 끓습니까? 답변: ", "섭씨 100도"),  # context ends in a space
    ("Question: What is the capital of Korea?\nAnswer:", " Seoul"),
    ("The quick brown fox jumps over the lazy ", "dog."),
    ("", "고양이는 상자를 좋아합니다."),  # empty context
    ("", "Hello world"),
    ("한글은 세종대왕이", " 만든"),
]


def reference_logprob(model_dir: Path, context: str, continuation: str) -> float:
    """Sum of continuation log-probs from one unbatched forward pass, tokenized by hand."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    if context:
        stripped = context.rstrip()
        moved = context[len(stripped) :]
        whole = tok(stripped + moved + continuation).input_ids
        ctx = tok(stripped).input_ids
    else:
        prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        ctx = [prefix]
        whole = ctx + tok(continuation, add_special_tokens=False).input_ids
    cont = whole[len(ctx) :]
    with torch.no_grad():
        logits = model(torch.tensor([whole[:-1]])).logits[0]
    logprobs = torch.log_softmax(logits[-len(cont) :], dim=-1)
    return float(logprobs[torch.arange(len(cont)), torch.tensor(cont)].sum())


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_qwen2_dir"])
def test_loglikelihood_matches_plain_forward(fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    model = load(f"hf/{model_dir}", batch_size=3)
    results = model.loglikelihood([LoglikelihoodRequest(c, x) for c, x in PAIRS])
    for (context, continuation), result in zip(PAIRS, results, strict=True):
        expected = reference_logprob(model_dir, context, continuation)
        assert result.logprob == pytest.approx(expected, abs=1e-5), (context, continuation)
        assert result.n_tokens > 0
    assert model.stats.requests == len(PAIRS)
    assert model.stats.forwarded_tokens > 0


def test_batching_does_not_change_scores(tiny_llama_dir: Path) -> None:
    requests = [LoglikelihoodRequest(c, x) for c, x in PAIRS]
    one = load(f"hf/{tiny_llama_dir}", batch_size=1).loglikelihood(requests)
    many = load(f"hf/{tiny_llama_dir}", batch_size=8).loglikelihood(requests)
    for a, b in zip(one, many, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-5)
        assert a.n_tokens == b.n_tokens


def test_is_greedy_follows_argmax(tiny_qwen2_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_qwen2_dir)
    ref = AutoModelForCausalLM.from_pretrained(tiny_qwen2_dir, dtype=torch.float32)
    model = load(f"hf/{tiny_qwen2_dir}")
    checked = 0
    for context in ["Seoul is the", "The cat", "We rode our", "Question:", "Reading"]:
        ctx = tok(context).input_ids
        with torch.no_grad():
            argmax = int(ref(torch.tensor([ctx])).logits[0, -1].argmax())
        # only tokens that decode and re-encode to themselves make a one-token continuation
        candidates = [
            i
            for i in (argmax, *range(3, 40))
            if tok(context + tok.decode([i])).input_ids == [*ctx, i]
        ]
        if argmax not in candidates:
            continue
        results = model.loglikelihood(
            [LoglikelihoodRequest(context, tok.decode([i])) for i in candidates]
        )
        assert [r.is_greedy for r in results] == [i == argmax for i in candidates]
        checked += 1
    assert checked >= 2


def test_truncates_long_inputs_from_the_left(tiny_llama_dir: Path) -> None:
    long_context = "안녕하세요. " * 200
    model = load(f"hf/{tiny_llama_dir}", max_length=32)
    result = model.loglikelihood([LoglikelihoodRequest(long_context, "서울")])[0]
    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    ref = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32)
    stripped = long_context.rstrip()
    whole = tok(stripped + " 서울").input_ids
    cont = whole[len(tok(stripped).input_ids) :]
    window = whole[-33:][:-1]
    with torch.no_grad():
        logits = ref(torch.tensor([window])).logits[0, -len(cont) :]
    expected = torch.log_softmax(logits, -1)[torch.arange(len(cont)), torch.tensor(cont)].sum()
    assert result.logprob == pytest.approx(float(expected), abs=1e-5)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_qwen2_dir"])
def test_greedy_generation_equals_an_argmax_loop(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    tok = AutoTokenizer.from_pretrained(model_dir)
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = load(f"hf/{model_dir}")
    for prompt in ["대한민국의 수도는", "The quick brown", "안녕"]:
        ids = tok(prompt).input_ids
        new: list[int] = []
        while len(new) < 6:
            with torch.no_grad():
                nxt = int(ref(torch.tensor([ids + new])).logits[0, -1].argmax())
            if nxt == tok.eos_token_id:
                break
            new.append(nxt)
        out = model.generate([GenerationRequest(prompt=prompt, max_new_tokens=6)])[0]
        assert out.text == tok.decode(new, skip_special_tokens=True)
        assert out.finish_reasons == (("length",) if len(new) == 6 else ("stop",))


def test_generation_stop_strings_cut_the_text(tiny_llama_dir: Path) -> None:
    model = load(f"hf/{tiny_llama_dir}")
    free = model.generate([GenerationRequest(prompt="안녕하세요", max_new_tokens=12)])[0].text
    assert len(free) > 2
    # the first visible, non-replacement character after the first one
    stop = next(c for c in free[1:] if c.strip() and c != "\ufffd")
    cut = model.generate([GenerationRequest(prompt="안녕하세요", max_new_tokens=12, stop=(stop,))])[
        0
    ]
    assert cut.text == free[: free.index(stop)]
    assert cut.finish_reasons == ("stop",)


def test_chat_messages_use_the_chat_template(tiny_llama_dir: Path) -> None:
    model = load(f"hf/{tiny_llama_dir}")
    messages = (ChatMessage("system", "친절하게 답하세요."), ChatMessage("user", "안녕?"))
    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    rendered = tok.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages],
        tokenize=False,
        add_generation_prompt=True,
    )
    via_chat = model.generate([GenerationRequest(messages=messages, max_new_tokens=5)])[0]
    via_prompt = model.generate([GenerationRequest(prompt=rendered, max_new_tokens=5)])[0]
    assert via_chat.text == via_prompt.text


def test_sampling_with_a_seed_is_reproducible(tiny_qwen2_dir: Path) -> None:
    model = load(f"hf/{tiny_qwen2_dir}")
    request = GenerationRequest(prompt="서울", max_new_tokens=8, temperature=1.0, n=3, seed=7)
    a, b = model.generate([request]), model.generate([request])
    assert a[0].texts == b[0].texts
    assert len(set(a[0].texts)) > 1


def test_top_logprobs_are_normalised_log_probabilities(tiny_llama_dir: Path) -> None:
    model = load(f"hf/{tiny_llama_dir}")
    out = model.generate([GenerationRequest(prompt="서울", max_new_tokens=3, top_logprobs=3)])[0]
    assert out.logprobs is not None
    steps = out.logprobs[0]
    assert len(steps) == 3
    for step in steps:
        # greedy decoding picks the most likely token, so it heads the alternatives
        assert step.logprob == pytest.approx(max(step.top.values()), abs=1e-6)
        assert all(v <= 0 for v in step.top.values())


def test_fingerprint_tracks_what_changes_outputs(
    tiny_llama_dir: Path, tiny_qwen2_dir: Path
) -> None:
    a = load(f"hf/{tiny_llama_dir}")
    assert a.fingerprint == load(f"hf/{tiny_llama_dir}", batch_size=2).fingerprint
    assert a.fingerprint != load(f"hf/{tiny_llama_dir}", dtype="bfloat16").fingerprint
    assert a.fingerprint != load(f"hf/{tiny_qwen2_dir}").fingerprint


def test_bad_arguments_name_the_field(tiny_llama_dir: Path) -> None:
    with pytest.raises(InputError, match="dtype"):
        load(f"hf/{tiny_llama_dir}", dtype="float8")
    with pytest.raises(InputError, match="colour"):
        load(f"hf/{tiny_llama_dir}", colour="blue")
    with pytest.raises(InputError, match="no model folder"):
        load("hf/./does-not-exist")
    with pytest.raises(InputError, match="BACKEND/TARGET"):
        load("llama")


def test_generations_report_their_token_cost(tiny_llama_dir: Path) -> None:
    model = load(f"hf/{tiny_llama_dir}")
    prompt = "대한민국의 수도는"
    out = model.generate(
        [GenerationRequest(prompt=prompt, max_new_tokens=4, n=2, temperature=1.0, seed=1)]
    )[0]
    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    assert out.prompt_tokens == 2 * len(tok(prompt).input_ids)
    assert 2 <= out.completion_tokens <= 8
    assert model.stats.generated_tokens == out.completion_tokens


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_qwen2_dir"])
def test_batched_greedy_generation_equals_one_at_a_time(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    prompts = ["안녕", "대한민국의 수도는 어디인가요?", "The quick brown fox jumps", "서울"]
    requests = [GenerationRequest(prompt=p, max_new_tokens=8) for p in prompts]
    batched = load(f"hf/{model_dir}", batch_size=4).generate(requests)
    single = load(f"hf/{model_dir}", batch_size=1).generate(requests)
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in single]
