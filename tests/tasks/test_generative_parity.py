"""Generative and multiple-context tasks build lm-eval 0.4.13's prompts and requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tasks.lm_eval_peer import lm_eval_task

from haechi.tasks import DocumentSource, build_prompt, bundled_tasks, load_documents

SAMPLES = DocumentSource("samples")


def _with_shots(peer: object, shots: list[object]) -> None:
    peer.sampler.sample = lambda n, eval_doc=None, **_: shots[:n]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "yaml_path"),
    [
        ("ko_gsm8k", "gsm8k/gsm8k.yaml"),
        ("kmmlu_direct", "kmmlu/direct/kmmlu_direct_korean_history.yaml"),
    ],
)
def test_generation_prompts_match(name: str, yaml_path: str, tmp_path: Path) -> None:
    spec = bundled_tasks()[name]
    peer = lm_eval_task(spec, yaml_path, None, tmp_path)
    ours = load_documents(spec, spec.dataset.test_split, SAMPLES)
    pool = load_documents(spec, spec.dataset.fewshot_split or spec.dataset.test_split, SAMPLES)
    theirs, their_pool = list(peer.eval_docs), list(peer.fewshot_docs())
    assert spec.generation.until == peer.config.generation_kwargs["until"]
    for k in (0, 2):
        _with_shots(peer, their_pool[:k])
        for doc, their_doc in zip(ours, theirs, strict=True):
            prompt = build_prompt(spec, doc, pool[:k])
            assert prompt.context == peer.fewshot_context(their_doc, k), (name, k)
            assert prompt.answer == peer.doc_to_target(their_doc)
            request = peer.construct_requests(their_doc, prompt.context)
            assert request.arguments[0] == prompt.context


def test_winogrande_requests_match(tmp_path: Path) -> None:
    spec = bundled_tasks()["ko_winogrande"]
    peer = lm_eval_task(spec, "winogrande/default.yaml", None, tmp_path)
    ours = load_documents(spec, "test", SAMPLES)
    pool = load_documents(spec, "train", SAMPLES)
    their_pool = list(peer.fewshot_docs())
    for k in (0, 2):
        _with_shots(peer, their_pool[:k])
        for doc, their_doc in zip(ours, list(peer.eval_docs), strict=True):
            prompt = build_prompt(spec, doc, pool[:k])
            context = peer.fewshot_context(their_doc, k)
            requests = peer.construct_requests(their_doc, context)
            assert [r.arguments for r in requests] == list(prompt.pairs)
            assert prompt.target == peer.doc_to_text(their_doc)  # its gold index
