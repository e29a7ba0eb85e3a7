"""Prompt layout and few-shot sampling."""

from __future__ import annotations

import random

from haechi.tasks import Document, FewshotSampler, TaskSpec, build_prompt

SPEC = TaskSpec(
    task="toy",
    description="다음 질문에 답하시오.\n\n",
    doc_to_text="Q: {{q}}\nA:",
    doc_to_choice="choices",
    doc_to_target="label",
    num_fewshot=2,
)


def doc(i: int) -> Document:
    return Document(i, {"q": f"질문{i}", "choices": [f"답{i}", "오답"], "label": 0}, f"toy:{i}")


def test_layout_is_description_shots_then_question() -> None:
    prompt = build_prompt(SPEC, doc(9), [doc(1), doc(2)])
    assert prompt.context == (
        "다음 질문에 답하시오.\n\nQ: 질문1\nA: 답1\n\nQ: 질문2\nA: 답2\n\nQ: 질문9\nA:"
    )
    assert prompt.fewshot_ids == (1, 2)


def test_haechi_draws_do_not_depend_on_limit_or_order() -> None:
    pool = [doc(i) for i in range(20)]
    sampler = FewshotSampler(SPEC, pool, same_split=True, seed=3)
    all_draws = {d.doc_id: [s.doc_id for s in sampler.draw(d, 4)] for d in pool}
    again = FewshotSampler(SPEC, pool, same_split=True, seed=3)
    for d in reversed(pool[:5]):  # a limit of 5, asked in another order
        assert [s.doc_id for s in again.draw(d, 4)] == all_draws[d.doc_id]
    assert all(d not in draws for d, draws in all_draws.items())  # never its own example
    other_seed = FewshotSampler(SPEC, pool, same_split=True, seed=4)
    assert any([s.doc_id for s in other_seed.draw(d, 4)] != all_draws[d.doc_id] for d in pool)


def test_lm_eval_mode_is_one_sequential_generator() -> None:
    pool = [doc(i) for i in range(10)]
    sampler = FewshotSampler(SPEC, pool, same_split=True, seed=1234, mode="lm-eval")
    rnd = random.Random(1234)
    for d in pool[:4]:
        expected = [x.doc_id for x in rnd.sample(pool, 3) if x.doc_id != d.doc_id][:2]
        assert [s.doc_id for s in sampler.draw(d, 2)] == expected


def test_first_n_takes_the_first_documents_of_the_pool() -> None:
    spec = SPEC.model_copy(update={"fewshot_sampler": "first_n"})
    pool = [doc(i) for i in range(6)]
    sampler = FewshotSampler(spec, pool, same_split=False, seed=0)
    assert [s.doc_id for s in sampler.draw(doc(40), 3)] == [0, 1, 2]
