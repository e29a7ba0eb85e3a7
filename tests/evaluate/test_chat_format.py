"""Chat templates beyond the lm-eval parity runs: lm-eval's own helpers as the reference for
turn collapsing and reasoning stripping, reasoning models' requests and scores, bundled and
file templates, servers that render their own template, and the leaderboard's rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.evaluate.test_leaderboard import eval_run
from tests.store.test_records import primary, store

from haechi.cli.console import console
from haechi.cli.render import print_leaderboard
from haechi.errors import InputError
from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.chat_format import chat_format, prompt_style, require_scoring
from haechi.evaluate.filters import strip_reasoning
from haechi.evaluate.leaderboard import leaderboard
from haechi.evaluate.plan import plan_task
from haechi.evaluate.scoring import generation_requests, score_generations
from haechi.models import load
from haechi.models.base import Generation
from haechi.models.openai_api import OpenAIArgs, OpenAIModel
from haechi.store import Store
from haechi.tasks import DocumentSource, bundled_tasks
from haechi.tasks.turns import Turn, as_messages

__all__ = ["store"]

SAMPLES = DocumentSource("samples")
TURNS = [
    Turn("system", "다음은 수학 문제입니다."),
    Turn("user", "Question: 1+1?\nAnswer:", " "),
    Turn("assistant", "2", "\n\n"),
    Turn("user", "Question: 2+3?\nAnswer:"),
]


def test_turns_collapse_as_lm_eval() -> None:
    from lm_eval.api.utils import Message, multiturn_to_singleturn

    theirs = multiturn_to_singleturn([Message(t.role, t.content, t.delimiter) for t in TURNS])
    ours = as_messages(TURNS, multiturn=False)
    assert [{"role": m.role, "content": m.content} for m in ours] == theirs
    assert ours[1].content == "Question: 1+1?\nAnswer: 2\n\nQuestion: 2+3?\nAnswer:"
    assert len(as_messages(TURNS, multiturn=True)) == 4


@pytest.mark.parametrize(
    "text",
    [
        "<think>3 더하기 5는\n\n8이다</think>\n\n답은 #### 8\n\nQuestion: 다음",
        "추론이 토큰 예산에서 잘렸다\n\n그래서 표시가 없다",
        "<think>a</think>b</think>  마지막 뒤만 #### 2",
        "",
    ],
)
def test_strip_reasoning_as_lm_eval(text: str) -> None:
    from lm_eval.models.utils import postprocess_generated_text

    stops = ["Question:", "\n\n"]
    assert strip_reasoning(text, "</think>", stops) == postprocess_generated_text(
        text, stops, "</think>"
    )
    assert strip_reasoning(text, None, stops) == text  # the backend already cut at stops


def test_reasoning_is_dropped_before_filters_and_budget_counts_it() -> None:
    spec = bundled_tasks()["ko_gsm8k"]
    config = EvalConfig(tasks=["ko_gsm8k"], samples=True, limit=2, think_end_token="</think>")
    (plan,) = plan_task(spec, config, SAMPLES)
    requests = generation_requests(plan, think_end_token="</think>", max_gen_toks=2048)
    # task stops ("Question:") would cut a trace: sent only without a reasoning marker
    assert {(r.stop, r.max_new_tokens) for r in requests} == {((), 2048)}
    assert generation_requests(plan)[0].stop == tuple(spec.generation.until)
    gold = [p.answer.rsplit("#### ", 1)[1] for p in plan.prompts]
    texts = [f"<think>풀이\n\nQuestion: 아님 #### 0</think>\n\n그러므로 #### {g}" for g in gold]
    responses = [Generation((t,), ("stop",), None, 10, 300) for t in texts]
    scored = score_generations(plan, responses, "</think>")
    assert scored.metrics["exact_match,strict-match"].value == 1.0
    record = scored.samples[0].record()
    assert record["reply"] == f"그러므로 #### {gold[0]}"
    assert record["response"] == texts[0] and record["completion_tokens"] == 300
    # without the marker the first "#### 0" inside the reasoning is the answer
    assert score_generations(plan, responses).metrics["exact_match,strict-match"].value == 0.0


def test_server_renders_its_template_for_generation_only() -> None:
    model = OpenAIModel("served", OpenAIArgs(base_url="http://127.0.0.1:9"))
    config = EvalConfig(tasks=["ko_gsm8k", "kobest_copa"], samples=True, limit=1,
                        apply_chat_template="default", system_instruction="한국어로 답하세요.")  # fmt: skip
    chat = chat_format(model, config)
    assert chat is not None and chat.record() == {
        "source": "server",
        "hash": None,
        "fewshot_as_multiturn": True,
        "generation_via_chat_messages": True,
    }
    (plan,) = plan_task(bundled_tasks()["ko_gsm8k"], config, SAMPLES, prompt_style(chat, config))
    (request,) = generation_requests(plan, chat)
    assert request.prompt is None and request.messages is not None
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.messages[0].content == "한국어로 답하세요."
    with pytest.raises(InputError, match="cannot score kobest_copa"):
        require_scoring(chat, model, ["kobest_copa"])
    with pytest.raises(InputError, match="tokenizer=ID"):
        evaluate(model, config, progress=False)  # refused before any request is sent


def test_bundled_and_file_templates(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    model = load(f"hf/{tiny_qwen2_dir}")
    own = chat_format(model, EvalConfig(tasks=["x"], apply_chat_template="default"))
    chatml = chat_format(model, EvalConfig(tasks=["x"], apply_chat_template="chatml"))
    assert own is not None and chatml is not None
    assert chatml.stop == ("<|im_end|>",) and chatml.template_hash != own.template_hash
    assert chatml.render is not None
    assert chatml.render(as_messages(TURNS[3:], multiturn=True)).endswith("<|im_start|>assistant\n")
    file = tmp_path / "mine.jinja"
    file.write_text(
        "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}>>", "utf-8"
    )
    mine = chat_format(model, EvalConfig(tasks=["x"], apply_chat_template=str(file)))
    assert mine is not None and mine.render is not None
    assert mine.render(as_messages(TURNS, multiturn=False)).startswith("[system] 다음은")
    with pytest.raises(InputError, match="no chat template named"):
        chat_format(model, EvalConfig(tasks=["x"], apply_chat_template="nope.jinja"))
    with pytest.raises(ValueError, match="needs apply_chat_template"):
        EvalConfig(tasks=["x"], fewshot_as_multiturn=True)


def test_leaderboard_keeps_templated_runs_apart(store: Store) -> None:
    eval_run(store, "m1", [primary("kobest_copa", 0.5)], options={})
    chat = {"source": "tokenizer", "hash": "3f2a9c1b00112233", "fewshot_as_multiturn": True}
    run_id = store.start_run("eval", "hf/m1", "m1", {"eval": {}, "chat_template": chat}, {})
    store.add_results(run_id, [primary("kobest_copa", 0.7)])
    store.finish_run(run_id, "completed")
    board = leaderboard(store)
    assert sorted((r.values["kobest_copa"], r.chat_template) for r in board.rows) == [
        (0.5, None),
        (0.7, "tokenizer 3f2a9c1b"),
    ]
    with console.capture() as captured:
        print_leaderboard(board)
    assert "hf/m1 (chat template: tokenizer 3f2a9c1b)" in captured.get()
