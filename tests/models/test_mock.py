"""``mock/``: the torch-free stand-in is deterministic, consistent across splits, and light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from haechi.errors import InputError
from haechi.models import GenerationRequest, LoglikelihoodRequest, load


def test_scores_are_a_function_of_the_text_and_the_seed() -> None:
    model = load("mock/a")
    whole, first, rest = model.loglikelihood(
        [
            LoglikelihoodRequest("대한민국의 수도는", " 서울"),
            LoglikelihoodRequest("대한민국의 수도는", " 서"),
            LoglikelihoodRequest("대한민국의 수도는 서", "울"),
        ]
    )
    # a continuation scores as the sum of its characters, whatever the split
    assert whole.logprob == pytest.approx(first.logprob + rest.logprob)
    assert whole.n_tokens == 3 and whole.logprob < 0
    assert whole.is_greedy == (first.is_greedy and rest.is_greedy)
    assert load("mock/b").loglikelihood([LoglikelihoodRequest("x", "y")]) == load(
        "mock/a"
    ).loglikelihood([LoglikelihoodRequest("x", "y")])  # the name is not the seed
    other = load("mock/a", seed="1").loglikelihood(
        [LoglikelihoodRequest("대한민국의 수도는", " 서울")]
    )
    assert other[0].logprob != whole.logprob
    assert load("mock/a").fingerprint != load("mock/a", seed="1").fingerprint


def test_generation_honours_stop_length_and_reply() -> None:
    model = load("mock/a")
    request = GenerationRequest(prompt="질문: 하늘은?\n답:", max_new_tokens=64)
    first, again = model.generate([request, request])
    assert first.text == again.text and first.text  # greedy is repeatable
    short = model.generate([GenerationRequest(prompt="질문: 하늘은?\n답:", max_new_tokens=2)])[0]
    assert short.text == first.text[:2] and short.finish_reasons[0] == (
        "length" if len(first.text) > 2 else "stop"
    )
    fixed = load("mock/a", reply="네, 알겠습니다. 다음 질문")
    stopped = fixed.generate([GenerationRequest(prompt="p", stop=(".",))])[0]
    assert stopped.text == "네, 알겠습니다" and stopped.finish_reasons == ("stop",)
    sampled = fixed.generate([GenerationRequest(prompt="p", n=2, temperature=1.0, top_logprobs=1)])
    assert len(sampled[0].texts) == 2 and sampled[0].logprobs is not None
    assert model.stats.requests == 3 and model.stats.generated_tokens > 0


def test_bad_arguments_are_named() -> None:
    with pytest.raises(InputError, match="latency"):
        load("mock/a", latency="-1")
    with pytest.raises(InputError, match="dtype"):
        load("mock/a", dtype="float32")


def test_loads_and_scores_without_torch() -> None:
    code = (
        "import sys\n"
        "from haechi.models import load, LoglikelihoodRequest\n"
        "m = load('mock/x')\n"
        "m.loglikelihood([LoglikelihoodRequest('a', 'b')])\n"
        "heavy = [n for n in ('torch', 'transformers') if n in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
