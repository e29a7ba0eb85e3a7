"""DPO on a tiny random Llama on CPU: the margin on the training pairs rises, resume, the
report, the memory estimate with the reference model against torch's allocator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from haechi.build.memory import load_config  # noqa: E402
from haechi.build.train import REPORT_FILE, train  # noqa: E402
from haechi.build.train_config import TrainConfig  # noqa: E402
from haechi.build.train_memory import DoesNotFitError, check_memory  # noqa: E402
from haechi.errors import InputError  # noqa: E402

# the chosen answers say one thing, the rejected ones another: a preference to learn
PAIRS = [
    {"prompt": "한국의 수도는 어디인가요?", "chosen": "서울입니다.", "rejected": "몰라요."},
    {"prompt": "김치는 무엇으로 만드나요?", "chosen": "배추로 만듭니다.", "rejected": "몰라요."},
    {"prompt": "한글을 만든 사람은?", "chosen": "세종대왕입니다.", "rejected": "몰라요."},
    {"prompt": "부산은 어떤 도시인가요?", "chosen": "항구 도시입니다.", "rejected": "몰라요."},
]


pytestmark = pytest.mark.usefixtures("one_thread")


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def settings(model: Path, data: Path, out: Path, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = dict(
        model=str(model), data=data, output=out, objective="dpo", max_length=64,
        logging_steps=1, device="cpu",
    )  # fmt: skip
    return TrainConfig(**{**values, **overrides})


@pytest.mark.slow
def test_dpo_raises_the_margin_on_the_training_pairs_and_resumes(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    data = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "run"
    common: dict[str, Any] = dict(batch_size=4, learning_rate=3e-3, save_steps=2, eval_data=data)
    first = train(settings(tiny_llama_dir, data, out, max_steps=2, **common), progress=False)
    # step 1: the policy is the reference (LoRA's B starts at zero): no margin, loss log 2
    assert first.preferences[0].step == 1 and abs(first.preferences[0].margin) < 1e-6
    assert abs(first.losses[0].loss - 0.6931) < 1e-3
    report = train(
        settings(tiny_llama_dir, data, out, max_steps=8, resume=True, **common), progress=False
    )
    assert report.resumed_from is not None and report.resumed_from.endswith("checkpoint-2")
    assert report.global_step == 8 and report.throughput.steps == 6
    assert report.throughput.samples == 6 * 4  # pairs, each two sequences
    (held_out,) = report.eval_preferences  # evaluated once, at the end, on the same pairs
    assert held_out.step == 8
    assert held_out.margin > 0.3 and held_out.accuracy == 1.0, held_out  # 0 before training
    assert held_out.chosen > held_out.rejected
    assert report.eval_losses[-1].loss < 0.55 < report.losses[0].loss  # from log 2
    saved = json.loads((out / REPORT_FILE).read_text("utf-8"))
    assert saved["config"]["objective"] == "dpo" and saved["data"]["format"] == "pairs"
    assert saved["data"]["train_examples"] == 4 and saved["config"]["beta"] == 0.1
    assert "reference forward" in saved["memory"]["moments"]
    assert (out / "adapter" / "adapter_config.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_dpo_estimate_matches_the_trl_step_on_cpu(
    tiny_llama_dir: Path, tmp_path: Path, method: str
) -> None:
    """torch's CPU allocator peak of real DPOTrainer steps against the run's estimate,
    with the reference model a second copy (full) or the base without adapters (LoRA)."""
    long = [{**p, "chosen": p["chosen"] * 12, "rejected": p["rejected"] * 12} for p in PAIRS]
    data = jsonl(tmp_path / "long.jsonl", long)
    config = settings(
        tiny_llama_dir, data, tmp_path / "run", method=method, batch_size=2, max_steps=2,
        cpu_peak="profiler",
    )  # fmt: skip
    report = train(config, progress=False)
    assert report.throughput.tokens == 2 * 2 * 2 * 64  # both answers cut to 64 tokens
    error = report.peak.relative_error
    assert error is not None and abs(error) < 0.15, report.peak
    reference = report.memory.overheads.get("reference model", 0)
    assert report.memory.estimate is not None
    assert reference == (report.memory.estimate.weights if method == "full" else 0)


def test_dpo_estimate_by_hand(tiny_llama_dir: Path, tmp_path: Path) -> None:
    """DPO's step is SFT's on twice the rows, plus the reference's weights for full
    fine-tuning (none with LoRA or precomputed log-probs) and its forward."""
    hf = load_config(str(tiny_llama_dir))
    data = tmp_path / "unread.jsonl"

    def moments(**kw: Any) -> dict[str, int]:
        base: dict[str, Any] = dict(model=str(tiny_llama_dir), data=data, output=tmp_path / "o")
        base |= dict(device="cpu", max_length=64, lora_dropout=0.0)
        return check_memory(TrainConfig(**{**base, **kw}), hf, baseline=0).moments

    for method in ("full", "lora"):
        sft = moments(method=method, batch_size=4)
        dpo = moments(method=method, batch_size=2, objective="dpo")
        weights = sum(p.numel() * 4 for p in _parameters(tiny_llama_dir)) if method == "full" else 0
        assert {n: dpo[n] - sft[n] for n in sft} == {n: weights for n in sft}, method
        assert dpo["reference forward"] >= sft["forward"] + weights
    precomputed = moments(method="full", batch_size=2, objective="dpo", precompute_ref=True)
    assert precomputed["optimizer step"] == moments(method="full", batch_size=4)["optimizer step"]


def _parameters(model: Path) -> list[Any]:
    from transformers import AutoModelForCausalLM

    return list(AutoModelForCausalLM.from_pretrained(model).parameters())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"objective": "sft", "beta": 0.5}, "beta"),
        ({"objective": "sft", "data_format": "arena"}, "data-format"),
        ({"packing": True}, "packing"),
        ({"dpo_loss": "nope"}, "dpo-loss"),
    ],
)
def test_dpo_settings_are_checked(tmp_path: Path, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        settings(tmp_path, tmp_path / "d.jsonl", tmp_path / "o", **overrides)
    assert caught.value.field == field


def test_cli_dpo_from_arena_votes_is_checked_before_training(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from haechi.cli.app import app

    votes = [{"winner": "a", "prompt": "질문", "response_a": "좋은 답", "response_b": "나쁜 답"}]
    data = jsonl(tmp_path / "votes.jsonl", votes)
    args = ["build", "train", "-m", str(tiny_llama_dir), "--objective", "dpo"]
    args += ["--data-format", "arena", "--data", str(data), "-o", str(tmp_path / "run")]
    args += ["--device", "cpu", "--method", "full", "--memory-limit", "1MB"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, DoesNotFitError)
    assert "reference model" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_cli_trains_dpo_from_an_arena_votes_file(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from haechi.cli.app import app

    votes = [
        {"winner": w, "prompt": p["prompt"], "response_a": p["chosen"], "response_b": p["rejected"]}
        for p, w in zip(PAIRS, ["model_a", "a", "tie", "both_bad"], strict=True)
    ]
    votes.append({**votes[0], "prompt": "아주 긴 질문 " * 40})  # fills --max-length 64
    data = jsonl(tmp_path / "votes.jsonl", votes)
    args = ["build", "train", "-m", str(tiny_llama_dir), "--objective", "dpo", "--json"]
    args += ["--data-format", "arena", "--data", str(data), "-o", str(tmp_path / "run")]
    args += ["--device", "cpu", "--max-steps", "1", "--max-length", "64"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / REPORT_FILE).read_text("utf-8"))
    assert report["data"]["format"] == "arena" and report["data"]["train_examples"] == 2
    dropped = {"both-bad": 1, "tie": 1, "prompts that fill max-length": 1}
    assert report["data"]["dropped"] == dropped
    assert report["global_step"] == 1 and report["throughput"]["samples"] == 1  # batch 1 pair
