"""Peer check: our hf backend scores requests exactly as lm-evaluation-harness 0.4.13 does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from haechi.models import LanguageModel, LoglikelihoodRequest, load

lm_eval_hf = pytest.importorskip("lm_eval.models.huggingface", reason="lm-eval is a dev dependency")
from lm_eval.api.instance import Instance  # noqa: E402

PAIRS = [
    ("대한민국의 수도는", " 서울입니다."),
    ("질문: 물은 몇 도에서 끓습니까? 답변:  ", "섭씨 100도"),  # two trailing spaces
    ("Question: What is the capital of Korea?\nAnswer:", " Seoul"),
    ("", "고양이는 상자를 좋아합니다."),
    ("A", "B"),
    ("한글은 세종대왕이", " 만든 글자"),
]


def _assert_scores_as_peer(peer: object, ours: LanguageModel) -> None:
    instances = [
        Instance(request_type="loglikelihood", doc={}, arguments=pair, idx=i)
        for i, pair in enumerate(PAIRS)
    ]
    expected = peer.loglikelihood(instances, disable_tqdm=True)  # type: ignore[attr-defined]
    got = ours.loglikelihood([LoglikelihoodRequest(*pair) for pair in PAIRS])
    for pair, (logprob, greedy), result in zip(PAIRS, expected, got, strict=True):
        assert result.logprob == pytest.approx(logprob, abs=1e-5), pair
        assert result.is_greedy == greedy


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_qwen2_dir"])
def test_same_tokens_and_scores_as_lm_eval(fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    peer = lm_eval_hf.HFLM(pretrained=str(model_dir), dtype="float32", device="cpu", batch_size=2)
    _assert_scores_as_peer(peer, load(f"hf/{model_dir}", batch_size=4))


@pytest.fixture(scope="module")
def llama_saved_without_bos(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama with its SentencePiece tokenizer re-saved (by this transformers) with
    add_bos_token=false, as transformers 5 saves some Llama tokenizers."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("models") / "tiny-llama-no-bos"
    shutil.copytree(tiny_llama_dir, out)
    AutoTokenizer.from_pretrained(tiny_llama_dir, add_bos_token=False).save_pretrained(out)
    return out


@pytest.mark.parametrize("add_bos_token", [True, False])
def test_add_bos_token_is_honoured_as_lm_eval_honours_it(
    llama_saved_without_bos: Path, add_bos_token: bool
) -> None:
    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(llama_saved_without_bos)
    assert saved.encode("대한민국")[0] != saved.bos_token_id  # no BOS unless asked for
    peer = lm_eval_hf.HFLM(
        pretrained=str(llama_saved_without_bos),
        dtype="float32",
        device="cpu",
        batch_size=2,
        add_bos_token=add_bos_token,
    )
    assert (peer.tok_encode("대한민국")[0] == saved.bos_token_id) is add_bos_token
    ours = load(f"hf/{llama_saved_without_bos}", batch_size=4, add_bos_token=add_bos_token)
    _assert_scores_as_peer(peer, ours)
