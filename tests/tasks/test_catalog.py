"""The bundled catalog: every task and group resolves and builds prompts from its samples,
and the prompts of tasks the harness also defines are byte-identical to lm-eval 0.4.13's.

The lm-eval side is lm-eval's own YAML (with its ``!function`` helpers), pointed at our
sample files through the ``json`` dataset builder; both sides get the same few-shot
documents, so what is compared is the prompt layout, not the sampling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.tasks.lm_eval_peer import lm_eval_task

from haechi.evaluate import EvalConfig
from haechi.evaluate.plan import plan_task
from haechi.tasks import Document, DocumentSource, TaskSpec, bundled_tasks, groups, resolve
from haechi.tasks.prompts import build_prompt
from haechi.tasks.registry import load_documents

SAMPLES = DocumentSource("samples")


def _samples_folder(task: str) -> Path:
    from importlib import resources

    return Path(str(resources.files("haechi.tasks").joinpath("samples", task)))


@pytest.mark.parametrize("name", sorted(bundled_tasks()))
def test_every_task_plans_prompts_from_its_samples(name: str) -> None:
    spec = bundled_tasks()[name]
    assert spec.fields, f"{name} declares no fields"
    plans = plan_task(spec, EvalConfig(tasks=[name], samples=True), SAMPLES)
    assert plans
    for plan in plans:
        assert plan.prompts, plan.name
        if spec.num_fewshot:
            assert plan.n_shot > 0, f"{plan.name}: no few-shot examples among the samples"
        for prompt in plan.prompts:
            assert len(prompt.fewshot_ids) == plan.n_shot
            if spec.output_type != "multiple_choice":
                continue  # generation tasks: nothing to choose from
            assert len(prompt.choices) >= 2 and 0 <= prompt.target < len(prompt.choices)
            if "mc2" in spec.metrics:
                assert prompt.labels is not None and 1 in prompt.labels
    if spec.subtask_field:
        assert len(plans) >= 2 and all(p.parent == name for p in plans)


@pytest.mark.parametrize("group", sorted(groups()))
def test_every_group_resolves_to_its_tasks(group: str) -> None:
    specs, asked = resolve(group)
    assert [s.task for s in specs] == groups()[group].tasks
    assert list(asked) == [group]


def test_ko_h5_averages_the_five_headline_metrics() -> None:
    h5 = groups()["ko_h5"]
    assert h5.aggregation == "mean"
    heads = {t: bundled_tasks()[t] for t in h5.tasks}
    assert {t: (s.primary_metric, s.num_fewshot) for t, s in heads.items()} == {
        "ko_arc": ("acc_norm", 25),
        "ko_hellaswag": ("acc_norm", 10),
        "ko_mmlu": ("acc", 5),
        "ko_truthfulqa": ("mc2", 0),
        "ko_commongen_v2": ("acc_norm", 2),
    }


def test_ko_commongen_v2_prompt_is_the_authors() -> None:
    """The authors' layout (J-Seo/KoCommonGEN-V2, an lm-eval v0.3.0 fork): description and a
    blank line, shots joined by blank lines, "concept set: {…}", numbered options, 정답:."""
    spec = bundled_tasks()["ko_commongen_v2"]
    (doc,) = _docs(
        spec, {"concept_set": "아이#우산#쓰다", **_options("가", "나", "다", "라"), "gold": 2}
    )
    (shot,) = _docs(spec, {"concept_set": "책#읽다", **_options("ㄱ", "ㄴ", "ㄷ", "ㄹ"), "gold": 4})
    prompt = build_prompt(spec, doc, [shot])
    description = (
        "다음은 주어진 개념정보인 concept set: 에 존재하는 형태소를 조합해서 상식에 부합하는 "
        "문장을 만드는 작업이다. concept set: 의 형태소를 조합하여 만든 4개의 예시 중에서 가장 "
        "상식적으로 타당한 문장을 포함한 선택지의 번호를 선택하라.\n\n"
    )
    assert prompt.context == (
        description
        + "concept set: {책, 읽다}\n1. ㄱ\n2. ㄴ\n3. ㄷ\n4. ㄹ\n정답: 4. ㄹ\n\n"
        + "concept set: {아이, 우산, 쓰다}\n1. 가\n2. 나\n3. 다\n4. 라\n정답:"
    )
    assert prompt.choices == ("1. 가", "2. 나", "3. 다", "4. 라") and prompt.target == 1


def test_gpqa_shuffle_is_stable_and_keeps_the_answer() -> None:
    spec = bundled_tasks()["ko_gpqa"]
    row = {
        "Question": "질문",
        "Correct Answer": "정답",
        "Incorrect Answer 1": "오답1",
        "Incorrect Answer 2": "오답2 [출처]",
        "Incorrect Answer 3": "오답3",
    }
    first, again = _docs(spec, row, row)
    assert first.fields == again.fields
    prompt = build_prompt(spec, first, [])
    assert prompt.choices[prompt.target] == first.fields["answer"]
    chosen = first.fields[f"choice{prompt.target + 1}"]
    assert chosen == "정답" and "오답2 " in prompt.context and "[출처]" not in prompt.context


def test_kmmlu_subtasks_are_named_like_the_harness_tasks() -> None:
    spec = bundled_tasks()["kmmlu"]
    plans = plan_task(spec, EvalConfig(tasks=["kmmlu"], samples=True), SAMPLES)
    assert {p.name for p in plans} == {"kmmlu_accounting", "kmmlu_korean_history"}


def _options(*texts: str) -> dict[str, str]:
    return {str(i + 1): t for i, t in enumerate(texts)}


def _docs(spec: TaskSpec, *rows: dict[str, Any]) -> list[Document]:
    from haechi.tasks.processors import get_processor

    process = get_processor(spec.process_docs, spec.source) if spec.process_docs else dict
    return [Document(i, process(row), f"test:{i}") for i, row in enumerate(rows)]


# --- byte-identical to lm-eval 0.4.13 ------------------------------------------------------

# haechi task, lm-eval YAML (relative to lm_eval/tasks), subject to keep (per-subject YAMLs)
PEERS = [
    ("arc_challenge", "arc/arc_challenge.yaml", None),
    ("ko_arc", "arc/arc_challenge.yaml", None),
    ("hellaswag", "hellaswag/hellaswag.yaml", None),
    ("ko_hellaswag", "hellaswag/hellaswag.yaml", None),
    ("mmlu", "mmlu/default/mmlu_abstract_algebra.yaml", "abstract_algebra"),
    ("mmlu", "mmlu/default/mmlu_astronomy.yaml", "astronomy"),
    ("ko_mmlu", "mmlu/default/mmlu_abstract_algebra.yaml", "abstract_algebra"),
    ("truthfulqa_mc1", "truthfulqa/truthfulqa_mc1.yaml", None),
    ("truthfulqa_mc2", "truthfulqa/truthfulqa_mc2.yaml", None),
    ("kobest_boolq", "kobest/kobest_boolq.yaml", None),
    ("kobest_copa", "kobest/kobest_copa.yaml", None),
    ("kobest_hellaswag", "kobest/kobest_hellaswag.yaml", None),
    ("kobest_sentineg", "kobest/kobest_sentineg.yaml", None),
    ("kobest_wic", "kobest/kobest_wic.yaml", None),
    ("kmmlu", "kmmlu/default/kmmlu_korean_history.yaml", None),
    ("haerae_general_knowledge", "haerae/haerae_gk.yaml", None),
    ("haerae_history", "haerae/haerae_hi.yaml", None),
    ("haerae_loan_word", "haerae/haerae_lw.yaml", None),
    ("haerae_rare_word", "haerae/haerae_rw.yaml", None),
    ("haerae_standard_nomenclature", "haerae/haerae_sn.yaml", None),
    ("ko_gpqa", "leaderboard/gpqa/gpqa_diamond_zeroshot.yaml", None),
]


def _as_index(target: Any, choices: list[str]) -> int:
    return choices.index(target) if isinstance(target, str) else int(target)


@pytest.mark.parametrize(("name", "yaml_path", "subject"), PEERS)
def test_prompts_are_byte_identical_to_lm_eval(
    name: str, yaml_path: str, subject: str | None, tmp_path: Path
) -> None:
    spec = bundled_tasks()[name]
    peer = lm_eval_task(spec, yaml_path, subject, tmp_path)
    ours = load_documents(spec, spec.dataset.test_split, SAMPLES)
    fewshot_split = spec.dataset.fewshot_split or spec.dataset.test_split
    pool = load_documents(spec, fewshot_split, SAMPLES)
    if subject is not None:
        ours = [d for d in ours if d.fields["subject"] == subject]
        pool = [d for d in pool if d.fields["subject"] == subject]
    theirs = list(peer.eval_docs)
    their_pool = list(peer.fewshot_docs())
    assert len(theirs) == len(ours) and len(their_pool) == len(pool)
    assert spec.target_delimiter == peer.config.target_delimiter
    assert spec.fewshot_delimiter == peer.config.fewshot_delimiter

    for k in (0, 2):
        for doc, their_doc in zip(ours, theirs, strict=True):
            # the same shots on both sides: the first k pool documents other than the doc
            picks = [i for i, d in enumerate(pool) if d.fields != doc.fields][:k]
            shots = [their_pool[i] for i in picks]
            peer.sampler.sample = lambda n, eval_doc=None, shots=shots, **_: shots[:n]
            prompt = build_prompt(spec, doc, [pool[i] for i in picks])
            assert prompt.context == peer.fewshot_context(their_doc, k), (name, doc.doc_id, k)
            choices = peer.doc_to_choice(their_doc)
            assert list(prompt.choices) == choices
            assert prompt.target == _as_index(peer.doc_to_target(their_doc), choices)
            requests = peer.construct_requests(their_doc, prompt.context)
            assert [r.arguments for r in requests] == [
                (prompt.context, spec.target_delimiter + c) for c in prompt.choices
            ]
            if "mc2" in spec.metrics:
                assert list(prompt.labels or ()) == their_doc["mc2_targets"]["labels"]


SHARED_COMMONGEN = Path(__file__).resolve().parents[2].parent / "shared/data/ko_commongen_v2"


@pytest.mark.skipif(not SHARED_COMMONGEN.is_dir(), reason=f"no {SHARED_COMMONGEN}")
def test_ko_commongen_v2_reads_the_real_files(tmp_path: Path) -> None:
    """The authors' files, linked under the split names the spec documents."""
    folder = tmp_path / "ko_commongen_v2"
    folder.mkdir()
    (folder / "test.jsonl").symlink_to(SHARED_COMMONGEN / "korean_commongen_v2_847_shuffled.jsonl")
    (folder / "fewshot.jsonl").symlink_to(SHARED_COMMONGEN / "v2_5shot.jsonl")
    spec = bundled_tasks()["ko_commongen_v2"]
    config = EvalConfig(tasks=["ko_commongen_v2"], data_dir=tmp_path, fewshot_sampling="lm-eval")
    (plan,) = plan_task(spec, config, DocumentSource("dir", tmp_path))
    assert (plan.n_original, plan.n_shot, len(plan.prompts)) == (847, 2, 847)
    first = plan.prompts[0]
    assert first.context.startswith("다음은 주어진 개념정보인 concept set: ")
    assert first.context.count("\n정답:") == 3 and first.context.endswith("\n정답:")
    assert all(c.startswith(f"{i}. ") for i, c in enumerate(first.choices, start=1))
