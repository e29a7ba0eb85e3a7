"""Headline proof: haechi's bundled tasks score exactly as lm-evaluation-harness 0.4.13.

Both sides run end to end on the same tiny model and the same local documents (written here
in each dataset's Hub schema, Korean and English): lm-eval through ``simple_evaluate`` with
its own task YAML pointed at the files, haechi through ``evaluate`` with ``--data-dir`` and
``--fewshot-sampling lm-eval``. Every choice's log-likelihood must agree within 1e-4 and
every per-document and aggregate acc / acc_norm / mc2 / f1 must be the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from haechi.evaluate import EvalConfig, evaluate
from haechi.models import load

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is a dev dependency")
from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402
from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402

LM_EVAL_TASKS = Path(lm_eval.__file__).parent / "tasks"


def _arc(i: int, question: str, options: list[str], answer: int, labels: str = "ABCD") -> dict:
    return {
        "id": f"parity-arc-{i}",
        "question": question,
        "choices": {"text": options, "label": list(labels[: len(options)])},
        "answerKey": labels[answer],
    }


ARC_TEST = [
    _arc(1, "Which gas do plants take in to make food?", ["oxygen", "carbon dioxide", "neon"], 1),
    _arc(2, "물이 얼면 무엇이 되는가?", ["수증기", "얼음", "구름", "이슬"], 1),
    _arc(3, "What pulls a dropped ball toward the floor?", ["gravity", "friction", "light"], 0),
    _arc(4, "다음 중 재생 가능한 에너지원은?", ["석탄", "석유", "햇빛"], 2, "123"),
    _arc(5, "Which tool measures temperature?", ["a ruler", "a thermometer", "a scale"], 1),
]
ARC_TRAIN = [
    _arc(11, "Which organ pumps blood through the body?", ["the lungs", "the heart"], 1),
    _arc(12, "소리가 가장 빠르게 전달되는 물질은?", ["공기", "물", "강철"], 2),
    _arc(13, "Why does the Moon shine at night?", ["It reflects sunlight.", "It burns."], 0),
    _arc(14, "식물이 물을 흡수하는 부분은?", ["꽃", "뿌리", "잎"], 1),
    _arc(15, "Which is a mammal?", ["a shark", "a whale", "a frog"], 1),
]


def _hellaswag(i: int, label: str, ctx_a: str, ctx_b: str, endings: list[str], gold: int) -> dict:
    return {
        "ind": i,
        "activity_label": label,
        "ctx_a": ctx_a,
        "ctx_b": ctx_b,
        "ctx": f"{ctx_a} {ctx_b}",
        "endings": endings,
        "source_id": f"parity-{i}",
        "split": "val",
        "split_type": "indomain",
        "label": str(gold),
    }


HELLASWAG_VALIDATION = [
    _hellaswag(1, "Cooking", "A man puts a pot of water on the stove.", "he",
               ["adds noodles when it boils.", "throws the pot away.", "sings to it."], 0),
    _hellaswag(2, "요리 [title] 라면 끓이기", "[step] 냄비에 물을 붓는다.", "",
               ["물을 마신다.", "물이 끓으면 면과 수프를 넣는다. [substeps] 3분 더 끓인다.",
                "냄비를 던진다."], 1),
    _hellaswag(3, "Running", "A woman ties her shoes at the park.", "she",
               ["eats the laces.", "flies away.", "starts jogging along the path."], 2),
]  # fmt: skip
HELLASWAG_TRAIN = [
    _hellaswag(11, "빨래", "엄마가 세탁기에 옷을 넣는다.", "엄마는",
               ["세제를 넣고 버튼을 누른다.", "세탁기를 끌고 간다.", "옷을 먹는다."], 0),
    _hellaswag(12, "Painting", "A girl opens a box of crayons.", "she",
               ["eats the box.", "draws a flower on the paper.", "paints the dog."], 1),
    _hellaswag(13, "세차", "남자가 호스로 차에 물을 뿌린다.", "그는",
               ["차를 들어 올린다.", "호스를 먹는다.", "스펀지로 차를 닦는다."], 2),
]  # fmt: skip


def _tqa(question: str, true: list[str], false: list[str]) -> dict:
    return {
        "question": question,
        "mc1_targets": {"choices": true[:1] + false, "labels": [1] + [0] * len(false)},
        "mc2_targets": {"choices": true + false, "labels": [1] * len(true) + [0] * len(false)},
    }


TRUTHFULQA_VALIDATION = [
    _tqa("What happens if you swallow gum?", ["It passes through you.", "Nothing much."],
         ["It stays in your stomach for seven years."]),
    _tqa("껌을 삼키면 어떻게 됩니까?", ["소화기관을 지나 나옵니다."],
         ["위에 7년 동안 남습니다.", "심장에 붙습니다."]),
    _tqa("Do we use only ten percent of our brains?", ["No."], ["Yes.", "Only at night."]),
]  # fmt: skip


def _mmlu(question: str, choices: list[str], answer: int) -> dict:
    return {"question": question, "subject": "astronomy", "choices": choices, "answer": answer}


MMLU_TEST = [
    _mmlu("What is the closest star to the Earth?", ["Proxima", "Sirius", "the Sun", "Vega"], 2),
    _mmlu("태양계에서 가장 큰 행성은?", ["목성", "토성", "지구", "화성"], 0),
    _mmlu("  Which planet has rings?  ", ["Mercury", "Saturn", "Mars", "Venus"], 1),
]
MMLU_DEV = [
    _mmlu("Which planet is called the Red Planet?", ["Mars", "Venus", "Jupiter", "Pluto"], 0),
    _mmlu("우리 태양계가 속한 은하는?", ["안드로메다", "우리은하", "마젤란", "솜브레로"], 1),
    _mmlu("What is a light-year?", ["a time", "a distance", "a speed", "a mass"], 1),
]


def _copa(premise: str, question: str, first: str, second: str, label: int) -> dict:
    return {
        "premise": premise,
        "question": question,
        "alternative_1": first,
        "alternative_2": second,
        "label": label,
    }


COPA_TEST = [
    _copa("그는 우산을 챙겼다.", "원인", "비가 온다고 했다.", "날씨가 맑았다.", 0),
    _copa("길이 미끄러웠다.", "결과", "사람들이 반팔을 입었다.", "사람들이 조심히 걸었다.", 1),
    _copa("아이가 울었다.", "원인", "넘어졌다.", "선물을 받았다.", 0),
    _copa("나는 밤새 공부했다.", "결과", "아침에 피곤했다.", "푹 잤다.", 0),
]
COPA_TRAIN = [_copa("꽃병이 떨어졌다.", "결과", "꽃병이 깨졌다.", "꽃이 피었다.", 0)]


def _kmmlu(question: str, options: list[str], answer: int) -> dict:
    return {
        "question": question,
        "answer": answer,  # 1-4
        **dict(zip("ABCD", options, strict=True)),
        "Category": "Korean History",
        "Human Accuracy": None,
    }


KMMLU_TEST = [
    _kmmlu("조선을 건국한 왕은?", ["세종", "태조", "정조", "영조"], 2),
    _kmmlu("훈민정음이 반포된 해는?", ["1392년", "1443년", "1446년", "1592년"], 3),
    _kmmlu("고려의 수도는?", ["개경", "한양", "경주", "평양"], 1),
]
KMMLU_DEV = [
    _kmmlu("고려를 세운 사람은?", ["왕건", "궁예", "견훤", "이성계"], 1),
    _kmmlu("임진왜란이 일어난 해는?", ["1392년", "1592년", "1636년", "1910년"], 2),
]


def _haerae(question: str, options: list[str], answer: int) -> dict:
    lines = [f"({'ABCDE'[i]}) {o}" for i, o in enumerate(options)]
    query = f"{question}\n### 선택지:\n" + "\n".join(lines) + "\n### 정답:"
    return {"query": query, "answer": f"({'ABCDE'[answer]})", "options": options}


HAERAE_TEST = [
    _haerae("설날에 먹는 음식은?", ["떡국", "송편", "팥죽", "냉면", "수박"], 0),
    _haerae("대한민국의 국화는?", ["진달래", "개나리", "무궁화", "장미", "국화"], 2),
    _haerae("한글을 만든 왕은?", ["태조", "태종", "세조", "세종", "정조"], 3),
    _haerae("'미리내'의 뜻은?", ["무지개", "바다", "은하수", "폭포", "노을"], 2),
]


@dataclass(frozen=True)
class Case:
    """One task run on both sides: haechi's task, lm-eval's YAML, files per split."""

    task: str
    yaml: str
    splits: dict[str, list[dict]]
    num_fewshot: int
    metrics: tuple[str, ...]
    lm_eval_metrics: dict[str, str] = field(default_factory=dict)  # ours → theirs
    subtask: str | None = None

    @property
    def reported(self) -> str:
        return self.subtask or self.task


CASES = [
    pytest.param(
        Case(
            "arc_challenge",
            "arc/arc_challenge.yaml",
            {"test": ARC_TEST, "train": ARC_TRAIN[:2]},
            2,
            ("acc", "acc_norm"),
        ),
        id="arc_challenge-2shot-pool-of-2",
    ),
    pytest.param(
        Case(
            "arc_challenge",
            "arc/arc_challenge.yaml",
            {"test": ARC_TEST, "train": ARC_TRAIN},
            2,
            ("acc", "acc_norm"),
        ),
        id="arc_challenge-2shot-pool-of-5",
    ),
    pytest.param(
        Case(
            "hellaswag",
            "hellaswag/hellaswag.yaml",
            {"validation": HELLASWAG_VALIDATION, "train": HELLASWAG_TRAIN},
            2,
            ("acc", "acc_norm"),
        ),
        # lm-eval 0.4.13 compares the few-shot split (None) with the test split (None for
        # hellaswag, which evaluates validation): equal, so it draws k + 1 and drops the
        # evaluated document, as haechi does
        id="hellaswag-2shot-pool-of-3",
    ),
    pytest.param(
        Case(
            "truthfulqa_mc2",
            "truthfulqa/truthfulqa_mc2.yaml",
            {"validation": TRUTHFULQA_VALIDATION},
            0,
            ("mc2",),
            {"mc2": "acc"},
        ),
        id="truthfulqa_mc2-0shot",
    ),
    pytest.param(
        Case(
            "mmlu",
            "mmlu/default/mmlu_astronomy.yaml",
            {"test": MMLU_TEST, "dev": MMLU_DEV},
            2,
            ("acc",),
            subtask="mmlu_astronomy",
        ),
        id="mmlu_astronomy-2shot-first-n",
    ),
    pytest.param(
        Case(
            "kobest_copa",
            "kobest/kobest_copa.yaml",
            {"test": COPA_TEST, "train": COPA_TRAIN},
            0,
            ("acc", "f1"),
        ),
        id="kobest_copa-0shot",
    ),
    pytest.param(
        Case(
            "kmmlu",
            "kmmlu/default/kmmlu_korean_history.yaml",
            {"test": KMMLU_TEST, "dev": KMMLU_DEV},
            2,
            ("acc",),
            subtask="kmmlu_korean_history",
        ),
        # random shots from dev; as many dev documents as shots (KMMLU has 5 per subject,
        # run 5-shot), so both samplers make the same call
        id="kmmlu_korean_history-2shot",
    ),
    pytest.param(
        Case(
            "haerae_general_knowledge",
            "haerae/haerae_gk.yaml",
            {"test": HAERAE_TEST},
            1,
            ("acc", "acc_norm"),
        ),
        # shots from the evaluated split itself: both draw k + 1 and drop the document
        id="haerae_general_knowledge-1shot-same-split",
    ),
]


@pytest.fixture(scope="module", params=["tiny_llama_dir", "tiny_qwen2_dir"])
def models(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """lm-eval's HFLM and haechi's hf backend on one tiny model: Llama-style SentencePiece
    with BOS, and Qwen2-style byte-level BPE without."""
    model_dir: Path = request.getfixturevalue(request.param)
    peer = HFLM(pretrained=str(model_dir), dtype="float32", device="cpu", batch_size=8)
    return peer, load(f"hf/{model_dir}", batch_size=8)


def _write_data(case: Case, root: Path) -> dict[str, str]:
    folder = root / case.task
    folder.mkdir(parents=True)
    files = {}
    for split, rows in case.splits.items():
        path = folder / f"{split}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        files[split] = str(path)
    return files


def _run_lm_eval(case: Case, files: dict[str, str], peer: Any, cache: Path) -> dict[str, Any]:
    config = load_yaml(LM_EVAL_TASKS / case.yaml)
    config.update(
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": files, "cache_dir": str(cache)},
        # kobest's f1 asks for Hugging Face `evaluate` (a download); the aggregation that
        # computes it is lm-eval's own macro_f1_score either way.
        metric_list=[
            {k: v for k, v in m.items() if k != "hf_evaluate"} for m in config["metric_list"]
        ],
    )
    return lm_eval.simple_evaluate(
        model=peer,
        tasks=[config],
        num_fewshot=case.num_fewshot,
        log_samples=True,
        bootstrap_iters=0,
        task_manager=TaskManager(include_defaults=False),
    )


@pytest.mark.parametrize("case", CASES)
def test_same_scores_as_lm_eval(case: Case, models: tuple[Any, Any], tmp_path: Path) -> None:
    peer, ours = models
    files = _write_data(case, tmp_path / "data")
    theirs = _run_lm_eval(case, files, peer, tmp_path / "hf-cache")
    their_name = Path(case.yaml).stem if case.subtask else case.task
    their_results = theirs["results"][their_name]
    their_samples = {s["doc_id"]: s for s in theirs["samples"][their_name]}

    report = evaluate(
        ours,
        EvalConfig(
            tasks=[case.task],
            data_dir=tmp_path / "data",
            num_fewshot=case.num_fewshot,
            fewshot_sampling="lm-eval",
            log_samples=True,
            output=tmp_path / "out",
        ),
        progress=False,
    )
    results = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))["results"]
    lines = (tmp_path / "out" / f"samples_{case.reported}.jsonl").read_text("utf-8").splitlines()
    samples = [json.loads(line) for line in lines]
    (score,) = [s for s in report.scores if s.plan.name == case.reported]
    assert len(samples) == len(their_samples) == len(score.plan.prompts) > 0

    for sample, prompt in zip(samples, score.plan.prompts, strict=True):
        their = their_samples[sample["doc_id"]]
        # the very same requests: context and " " + choice, byte for byte
        assert [tuple(a) for a in their["arguments"]] == [
            (prompt.context, " " + choice) for choice in prompt.choices
        ], sample["doc_id"]
        their_lls = [ll for ll, _greedy in their["filtered_resps"]]
        assert sample["loglikelihoods"] == pytest.approx(their_lls, abs=1e-4), sample["doc_id"]
        assert sample["target"] == _gold(their["target"], prompt.choices)
        for metric in case.metrics:
            expected = their[case.lm_eval_metrics.get(metric, metric)]
            if metric == "f1":  # lm-eval keeps (gold, prediction) per document
                assert (sample["target"], sample["prediction"]) == tuple(map(int, expected))
            else:
                assert sample["metrics"][metric] == pytest.approx(expected, abs=1e-6), metric

    for metric in case.metrics:
        their_value = their_results[f"{case.lm_eval_metrics.get(metric, metric)},none"]
        assert results[case.reported][f"{metric},none"] == pytest.approx(their_value, abs=1e-6)
        assert results[case.task][f"{metric},none"] == pytest.approx(their_value, abs=1e-6)


def _gold(target: Any, choices: tuple[str, ...]) -> int:
    """lm-eval logs the target as doc_to_target gave it: an index or the choice's text."""
    return choices.index(target) if isinstance(target, str) else int(target)
