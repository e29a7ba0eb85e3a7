"""Chat-template evaluation is lm-eval 0.4.13's ``--apply_chat_template``,
``--fewshot_as_multiturn`` and ``--system_instruction``: the same prompts, the same
context/continuation split (the target delimiter dropped under a template) and the same
log-likelihoods and generations.

Both sides run end to end on the same tiny models and Korean documents (the bundled
samples): Qwen2's real tokenizer and chat template (llama.cpp's vocab GGUF), and the tiny
Llama, whose template writes BOS (so neither side may add a second one). Tasks cover a
description as system turn (ko_mmlu), shots from another split (kobest_copa) and from the
evaluated one (haerae), alternative contexts (ko_winogrande) and generation (ko_gsm8k).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.tasks.lm_eval_peer import lm_eval_task

from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.scoring import GenerationSample, Sample
from haechi.models import load
from haechi.tasks import bundled_tasks

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is a dev dependency")
from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

pytestmark = pytest.mark.slow

MAX_GEN_TOKS = 24  # random models never stop early: keep generations short
SYSTEM = "당신은 한국어 시험을 치르는 성실한 학생입니다. 정답만 고르세요."
# haechi task, lm-eval YAML, subject filter, haechi's reported (sub)task
TASKS = [
    ("ko_mmlu", "mmlu/default/mmlu_abstract_algebra.yaml", "abstract_algebra",
     "ko_mmlu_abstract_algebra"),
    ("kobest_copa", "kobest/kobest_copa.yaml", None, "kobest_copa"),
    ("haerae_general_knowledge", "haerae/haerae_gk.yaml", None, "haerae_general_knowledge"),
    ("ko_winogrande", "winogrande/default.yaml", None, "ko_winogrande"),
    ("ko_gsm8k", "gsm8k/gsm8k.yaml", None, "ko_gsm8k"),
]  # fmt: skip
MULTITURN = {"apply_chat_template": "default"}  # multi-turn few-shot by default
SINGLE_TURN = {
    "apply_chat_template": "default",
    "fewshot_as_multiturn": False,
    "system_instruction": SYSTEM,
}
PLAIN = {"system_instruction": SYSTEM}
MC = ("ko_mmlu", "kobest_copa")
CASES = [
    pytest.param("qwen2_chat_dir", MULTITURN, None, id="qwen2-template-multiturn"),
    pytest.param(
        "qwen2_chat_dir", SINGLE_TURN, ("ko_mmlu", "ko_gsm8k"), id="qwen2-template-single-turn-system"
    ),
    pytest.param("tiny_llama_dir", SINGLE_TURN, MC, id="llama-bos-template-single-turn-system"),
    pytest.param("tiny_llama_dir", PLAIN, MC, id="llama-plain-system"),
]  # fmt: skip


@pytest.fixture(scope="module")
def models(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """lm-eval's HFLM and haechi's hf backend on one model (one row per batch on both
    sides, so left padding cannot move a greedy generation)."""
    model_dir: Path = request.getfixturevalue(request.param)
    peer = HFLM(pretrained=str(model_dir), dtype="float32", device="cpu", batch_size=1)
    return peer, load(f"hf/{model_dir}", batch_size=1)


def _lm_eval(
    peer: Any,
    options: dict[str, Any],
    cases: list[tuple[str, str, str | None, str]],
    tmp_path: Path,
) -> dict[str, Any]:
    tasks = []
    for task, yaml_path, subject, _ in cases:
        folder = tmp_path / task
        folder.mkdir()
        peer_task = lm_eval_task(bundled_tasks()[task], yaml_path, subject, folder)
        if peer_task.config.generation_kwargs:
            peer_task.config.generation_kwargs["max_gen_toks"] = MAX_GEN_TOKS
        tasks.append(peer_task)
    template = options.get("apply_chat_template") is not None
    return lm_eval.simple_evaluate(
        model=peer,
        tasks=tasks,
        num_fewshot=1,
        limit=2,
        log_samples=True,
        bootstrap_iters=0,
        apply_chat_template=template,
        # lm-eval's command line turns multi-turn on with a template, as haechi does
        fewshot_as_multiturn=template and options.get("fewshot_as_multiturn", True),
        system_instruction=options.get("system_instruction"),
        task_manager=TaskManager(include_defaults=False),
    )


@pytest.mark.parametrize(("models", "options", "only"), CASES, indirect=["models"])
def test_same_requests_and_scores_as_lm_eval(
    models: tuple[Any, Any], options: dict[str, Any], only: tuple[str, ...] | None, tmp_path: Path
) -> None:
    peer, ours = models
    cases = [case for case in TASKS if only is None or case[0] in only]
    theirs = _lm_eval(peer, options, cases, tmp_path)
    report = evaluate(
        ours,
        EvalConfig(
            tasks=[t for t, *_ in cases],
            samples=True,
            num_fewshot=1,
            limit=2,
            fewshot_sampling="lm-eval",
            max_gen_toks=MAX_GEN_TOKS,
            **options,
        ),
        progress=False,
    )
    scores = {s.plan.name: s for s in report.scores}
    templated = options.get("apply_chat_template") is not None
    for _, yaml_path, _, reported in cases:
        name = _their_name(theirs, yaml_path)
        their_samples = sorted(theirs["samples"][name], key=lambda s: s["doc_id"])
        score = scores[reported]
        assert len(score.samples) == len(their_samples) // _filters(score) > 0, reported
        if score.plan.spec.output_type == "generate_until":
            _same_generations(score, their_samples, reported)
            continue
        for sample, prompt, their in zip(
            score.samples, score.plan.prompts, their_samples, strict=True
        ):
            assert isinstance(sample, Sample)
            # the very same requests, byte for byte: rendered contexts, continuations
            assert [tuple(a) for a in their["arguments"]] == list(prompt.pairs), (
                reported,
                sample.doc_id,
            )
            if templated:
                assert all(not x.startswith(" ") for _, x in prompt.pairs)  # delimiter dropped
            their_lls = [ll for ll, _ in their["filtered_resps"]]
            assert list(sample.loglikelihoods) == pytest.approx(their_lls, abs=1e-4), reported
            assert sample.values["acc"] == their["acc"], reported
    if templated:
        record = report.document["config"]["chat_template"]
        assert record["source"] == "tokenizer" and len(record["hash"]) == 16
        assert record["fewshot_as_multiturn"] is options.get("fewshot_as_multiturn", True)


def _same_generations(score: Any, their_samples: list[dict[str, Any]], reported: str) -> None:
    strict = [s for s in their_samples if s["filter"] == "strict-match"]
    for sample, prompt, their in zip(score.samples, score.plan.prompts, strict, strict=True):
        assert isinstance(sample, GenerationSample)
        assert their["arguments"][0][0] == prompt.context, reported
        assert their["resps"][0][0] == sample.response, reported
        assert their["filtered_resps"][0] == sample.filtered["strict-match"]


def _filters(score: Any) -> int:
    """lm-eval logs a generation once per filter."""
    return len(score.plan.spec.filters) if score.plan.spec.output_type == "generate_until" else 1


def _their_name(results: dict[str, Any], yaml_path: str) -> str:
    stem = Path(yaml_path).stem
    names = {"haerae_gk": "haerae_general_knowledge", "default": "winogrande"}
    name = names.get(stem, stem)
    assert name in results["samples"], sorted(results["samples"])
    return name
