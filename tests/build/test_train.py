"""Fine-tuning a tiny random Llama on CPU: LoRA learns, adapters reload and merge, full
fine-tuning, chat templates, prompt masking, the memory refusal, resume, the report."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("trl")
peft = pytest.importorskip("peft")

from haechi.build.train import REPORT_FILE, train  # noqa: E402
from haechi.build.train_config import TrainConfig  # noqa: E402
from haechi.build.train_memory import DoesNotFitError  # noqa: E402
from haechi.errors import InputError  # noqa: E402
from haechi.models.fingerprint import weights_hash  # noqa: E402

PAIRS = [
    {"prompt": "한국의 수도는 어디인가요?", "response": "서울입니다."},
    {"prompt": "김치는 무엇으로 만드나요?", "response": "배추와 고춧가루로 만듭니다."},
    {"prompt": "한글을 만든 사람은?", "response": "세종대왕입니다."},
    {"prompt": "부산은 어떤 도시인가요?", "response": "바다가 있는 항구 도시입니다."},
]
CHATS = [
    {
        "messages": [
            {"role": "system", "content": "친절한 한국어 비서입니다."},
            {"role": "user", "content": p["prompt"]},
            {"role": "assistant", "content": p["response"]},
        ]
    }
    for p in PAIRS
]
# the bundled tiny template, with the assistant's turn marked for assistant-only loss
GENERATION_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'assistant' %}<|assistant|>\n"
    "{% generation %}{{ m['content'] }}{{ eos_token }}{% endgeneration %}\n"
    "{% else %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


pytestmark = pytest.mark.usefixtures("one_thread")


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def settings(model: Path, data: Path, out: Path, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = dict(
        model=str(model), data=data, output=out, max_length=64, logging_steps=1, device="cpu"
    )
    return TrainConfig(**{**values, **overrides})


def token_ids(tokenizer: Any, messages: list[dict[str, str]], **kwargs: Any) -> list[int]:
    """The chat template's tokens for ``messages``."""
    return list(tokenizer.apply_chat_template(messages, tokenize=True, **kwargs)["input_ids"])


def logits(model: Any, tokenizer: Any) -> Any:
    ids = tokenizer("한국의 수도는 서울입니다.", return_tensors="pt").input_ids
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*will be removed in v6:FutureWarning")  # peft's reload
def test_lora_learns_reloads_and_merges(tiny_llama_dir: Path, tmp_path: Path) -> None:
    data = jsonl(tmp_path / "pairs.jsonl", PAIRS * 2)
    config = settings(
        tiny_llama_dir, data, tmp_path / "run", max_steps=20, batch_size=4, learning_rate=5e-3,
        merge=True,
    )  # fmt: skip
    report = train(config, progress=False)

    losses = [p.loss for p in report.losses]
    assert [p.step for p in report.losses] == list(range(1, 21))
    assert sum(losses[-3:]) / 3 < losses[0] - 0.7, losses  # nats per completion token
    assert report.global_step == 20 and report.throughput.steps == 20
    # 20 steps x 4 = 80 sequences = each of the 8 examples 10 times, cut at 64 tokens;
    # padding left out
    tok = transformers.AutoTokenizer.from_pretrained(tiny_llama_dir)
    lengths = [len(token_ids(tok, c["messages"][1:])) for c in CHATS]
    assert report.throughput.samples == 80
    kept = [min(n, 64) for n in lengths]
    assert max(lengths) > 64 and report.throughput.tokens == 10 * 2 * sum(kept)
    assert report.throughput.tokens_per_second > 0

    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    before = logits(base, tok)
    tuned = peft.PeftModel.from_pretrained(base, report.outputs["adapter"])
    after = logits(tuned, tok)
    assert (after - before).abs().max() > 1e-2
    merged = transformers.AutoModelForCausalLM.from_pretrained(report.outputs["merged"])
    torch.testing.assert_close(logits(merged, tok), after, atol=1e-4, rtol=1e-4)
    merged_tok = transformers.AutoTokenizer.from_pretrained(report.outputs["merged"])
    assert merged_tok("서울").input_ids == tok("서울").input_ids


@pytest.mark.slow
def test_report_records_configuration_data_and_memory(tiny_llama_dir: Path, tmp_path: Path) -> None:
    data = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "run"
    report = train(
        settings(tiny_llama_dir, data, out, max_steps=2, eval_fraction=0.25), progress=False
    )
    saved = json.loads((out / REPORT_FILE).read_text("utf-8"))
    assert saved == json.loads(report.model_dump_json())
    assert saved["config"]["seed"] == 0 and saved["config"]["method"] == "lora"
    assert saved["base_model"]["weights_hash"] == weights_hash(tiny_llama_dir)
    assert saved["base_model"]["dtype"] == "float32"
    # rank 16 on all 7 projections of 2 layers (hidden 64, MLP 128, 2 of 4 heads for k/v)
    per_layer = sum(16 * (i + o) for i, o in [(64, 64), (64, 32), (64, 32), (64, 64)])
    per_layer += 16 * 3 * (64 + 128)
    assert saved["base_model"]["trainable_parameters"] == 2 * per_layer
    assert saved["memory"]["estimate"]["trainable_parameters"] == 2 * per_layer
    assert saved["data"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert (saved["data"]["train_examples"], saved["data"]["eval_examples"]) == (3, 1)
    assert saved["data"]["loss_on"] == "completion" and saved["data"]["chat_template"] is True
    assert [p["step"] for p in saved["eval_losses"]] == [2]
    assert {"torch", "transformers", "trl", "peft"} <= saved["versions"].keys()
    assert saved["memory"]["limit_source"] == "available RAM" and saved["memory"]["fits"]
    assert saved["peak"]["bytes"] >= saved["memory"]["estimate"]["weights"]
    # the resident set is compared with the process's figure, which "fits" is decided on
    assert saved["peak"]["estimated"] == saved["memory"]["process"]["total"]
    assert saved["memory"]["process"]["tensors"] == saved["memory"]["total"]
    assert saved["memory"]["total"] == max(saved["memory"]["moments"].values())
    assert "VmHWM" in saved["peak"]["method"]


def test_prompt_tokens_are_masked_and_assistant_only_loss(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    """What TRL trains on, read from its collated labels (-100: left out of the loss)."""
    from haechi.build import train_trainer as tt
    from haechi.build.train_data import read_examples, to_records

    config = settings(tiny_llama_dir, tmp_path / "x.jsonl", tmp_path / "run", method="full")
    tok = tt.load_tokenizer(config)
    model = tt.load_model(config, "fp32")
    args = tt.training_arguments(config, "fp32", "cpu", has_eval=False)
    pairs = to_records(
        read_examples(jsonl(tmp_path / "p.jsonl", PAIRS)).examples, "prompt-response", True
    )
    trainer = tt.build_trainer(config, model, tok, args, pairs, [])
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    prompt = token_ids(tok, pairs[0]["prompt"], add_generation_prompt=True)
    assert ids[: len(prompt)] == list(prompt)
    assert labels[: len(prompt)] == [-100] * len(prompt)
    assert labels[len(prompt) :] == ids[len(prompt) :]

    # messages train on the whole conversation, or on the assistant's turn only
    tok.chat_template = GENERATION_TEMPLATE
    chats = to_records(read_examples(jsonl(tmp_path / "c.jsonl", CHATS)).examples, "messages", True)
    trained = {}
    for only in (False, True):
        config = settings(
            tiny_llama_dir, tmp_path / "c.jsonl", tmp_path / "run", method="full",
            max_length=256, assistant_only_loss=only,
        )  # fmt: skip
        args = tt.training_arguments(config, "fp32", "cpu", has_eval=False)
        trainer = tt.build_trainer(config, model, tok, args, chats, [])
        batch = trainer.data_collator([trainer.train_dataset[0]])
        ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
        trained[only] = [t for t, label in zip(ids, labels, strict=True) if label != -100]
        assert ids == token_ids(tok, CHATS[0]["messages"])
    assert trained[False] == token_ids(tok, CHATS[0]["messages"])
    assert tok.decode(trained[True]) == CHATS[0]["messages"][2]["content"] + tok.eos_token


@pytest.mark.slow
def test_full_fine_tuning_with_messages_and_packing(tiny_llama_dir: Path, tmp_path: Path) -> None:
    data = jsonl(tmp_path / "chat.jsonl", CHATS * 2)
    config = settings(
        tiny_llama_dir, data, tmp_path / "run", method="full", max_length=256, packing=True,
        learning_rate=1e-3,
    )  # fmt: skip
    report = train(config, progress=False)
    assert report.data.format == "messages" and report.data.loss_on == "all"
    assert report.base_model.trainable_parameters == report.base_model.parameters
    tuned = transformers.AutoModelForCausalLM.from_pretrained(report.outputs["model"])
    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    tok = transformers.AutoTokenizer.from_pretrained(report.outputs["model"])
    assert (logits(tuned, tok) - logits(base, tok)).abs().max() > 1e-3
    # one epoch of rows of up to 256 tokens, each holding several conversations (68-98
    # tokens): every conversation counts as a sample, and no row is padded
    lengths = [len(token_ids(tok, c["messages"])) for c in CHATS]
    assert max(lengths) < 128 and report.global_step < 8
    assert report.throughput.samples == 8
    assert report.throughput.tokens == 2 * sum(lengths)


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(tiny_llama_dir: Path, tmp_path: Path) -> None:
    data = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "run"
    first = train(settings(tiny_llama_dir, data, out, max_steps=2, batch_size=2), progress=False)
    assert first.global_step == 2 and (out / "checkpoint-2").is_dir()
    with pytest.raises(InputError, match="checkpoint-2") as refused:
        train(settings(tiny_llama_dir, data, out, max_steps=4, batch_size=2), progress=False)
    assert refused.value.hint is not None and "--resume" in refused.value.hint
    again = train(
        settings(tiny_llama_dir, data, out, max_steps=4, batch_size=2, resume=True), progress=False
    )
    assert again.resumed_from is not None and again.resumed_from.endswith("checkpoint-2")
    assert again.global_step == 4 and again.throughput.steps == 2
    assert [p.step for p in again.losses] == [1, 2, 3, 4]
    assert [p.loss for p in again.losses][:2] == [p.loss for p in first.losses]
    with pytest.raises(InputError, match="no checkpoint"):
        train(settings(tiny_llama_dir, data, tmp_path / "new", resume=True), progress=False)


def test_overheads_by_hand() -> None:
    """TRL's LM-head tiles, LoRA dropout copies and NF4 weights, counted by hand."""
    from haechi.build.memory import LINEAR_NAMES, architecture, setup_from
    from haechi.build.train_overheads import NF4_BYTES, overheads

    arch = architecture(transformers.LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2,
    ))  # fmt: skip
    full = setup_from(batch_size=2, seq_len=32, device="cpu")
    t = 64
    assert overheads(arch, full, False, 0.0).by_moment == {
        "forward": {"fused LM head": t * 32768 * 4 - t * 512 * 4},
        "loss backward": {
            "fused LM head": t * 32768 * 4 + t * 64 * 4 + 512 * 64 * 4 - 2 * t * 512 * 4
        },
    }
    lora = setup_from(
        batch_size=2, seq_len=32, device="cpu", lora_rank=8, lora_targets=LINEAR_NAMES
    )
    inputs = 6 * 64 + 128  # q, k, v, o, gate, up read the hidden size; down the MLP's
    dropout = overheads(arch, lora, False, 0.05).by_moment
    assert dropout["forward"]["LoRA dropout copies"] == 2 * t * inputs * 5  # fp32 + mask
    assert dropout["layers backward end"]["LoRA dropout copies"] == t * inputs * 5
    assert "LoRA dropout copies" not in overheads(arch, lora, False, 0.0).by_moment["forward"]
    checkpointed = overheads(
        arch, lora.model_copy(update={"grad_checkpointing": True}), False, 0.05
    )
    assert "LoRA dropout copies" not in checkpointed.by_moment["forward"]
    assert checkpointed.by_moment["layers backward start"]["LoRA dropout copies"] == t * inputs * 5
    bf16 = lora.model_copy(update={"precision": "bf16"})
    matrices = 2 * (64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 128)
    nf4 = overheads(arch, bf16, True, 0.0).by_moment["optimizer step"]["NF4 weights"]
    assert nf4 == -int(matrices * (2 - NF4_BYTES))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_estimate_with_overheads_matches_the_trl_step_on_cpu(
    tiny_llama_dir: Path, tmp_path: Path, method: str
) -> None:
    """torch's CPU allocator peak of real SFTTrainer steps against the run's estimate."""
    long = [{"prompt": p["prompt"], "response": p["response"] * 8} for p in PAIRS]
    data = jsonl(tmp_path / "long.jsonl", long * 2)
    config = settings(
        tiny_llama_dir, data, tmp_path / "run", method=method, batch_size=4, max_steps=3,
        cpu_peak="profiler",
    )  # fmt: skip
    report = train(config, progress=False)
    assert report.throughput.tokens == 3 * 4 * 64  # every sequence cut to 64: no padding
    assert "profiler" in report.peak.method
    error = report.peak.relative_error
    assert error is not None and abs(error) < 0.15, report.peak
    assert report.memory.estimate is not None
    # the estimator's plain loop alone misses TRL's LM-head tiles
    assert report.memory.estimate.total < 0.5 * report.peak.bytes


def test_cli_refuses_a_run_that_does_not_fit(
    tiny_llama_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from typer.testing import CliRunner

    from haechi.cli.app import app, main

    data = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    args = ["build", "train", "-m", str(tiny_llama_dir), "--data", str(data)]
    args += ["-o", str(tmp_path / "run"), "--device", "cpu", "--memory-limit", "1MB"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, DoesNotFitError)
    assert "does NOT fit in 1.0 MiB (--memory-limit)" in result.output
    # nothing fits in 1 MB (the interpreter alone is more): no setting is offered
    assert result.exception.check.advice == {}
    assert "no setting the estimator knows fits" in result.output
    assert "--force" in (result.exception.hint or "")
    assert not (tmp_path / "run").exists()

    monkeypatch.setattr(sys, "argv", ["haechi", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    assert "memory-limit" in capsys.readouterr().err


def test_settings_this_machine_cannot_run_are_input_errors(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    data = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    for overrides, says in [
        ({"method": "qlora"}, "QLoRA"),
        ({"optimizer": "adamw-8bit"}, "8-bit AdamW"),
        ({"precision": "fp16-mixed"}, "fp16"),
        ({"assistant_only_loss": True}, "assistant-only loss applies to 'messages'"),
    ]:
        with pytest.raises(InputError, match=says):
            train(settings(tiny_llama_dir, data, tmp_path / "run", **overrides), progress=False)
    with pytest.raises(InputError, match="not both"):
        settings(tiny_llama_dir, data, tmp_path / "run", eval_fraction=0.1, eval_data=data)


def test_messages_need_a_chat_template(tiny_llama_dir: Path, tmp_path: Path) -> None:
    bare = Path(shutil.copytree(tiny_llama_dir, tmp_path / "no-template"))
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    config_file = bare / "tokenizer_config.json"
    tokenizer_config = json.loads(config_file.read_text("utf-8"))
    tokenizer_config.pop("chat_template", None)
    config_file.write_text(json.dumps(tokenizer_config), "utf-8")
    data = jsonl(tmp_path / "chat.jsonl", CHATS)
    with pytest.raises(InputError, match="no chat template") as caught:
        train(settings(bare, data, tmp_path / "run"), progress=False)
    assert caught.value.file == str(data)


def parsed(flags: str) -> dict[str, Any]:
    """``--batch-size 1 --grad-checkpointing`` → ``{"batch_size": 1, "grad_checkpointing": True}``."""
    words, out = flags.removeprefix("all of: ").split(), {}
    while words:
        name = words.pop(0).removeprefix("--").replace("-", "_")
        out[name] = True if not words or words[0].startswith("--") else words.pop(0)
    return out


def test_advice_offers_only_settings_that_fit(tiny_llama_dir: Path, tmp_path: Path) -> None:
    """Every suggestion, applied as the flags it names, is estimated again and fits."""
    from haechi.build.memory import load_config
    from haechi.build.train_memory import check_memory

    hf = load_config(str(tiny_llama_dir))
    data = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    base = dict(method="full", batch_size=8, max_length=512, memory_limit=1)

    def check(limit: int, **changes: Any) -> Any:
        config = settings(tiny_llama_dir, data, tmp_path / "run", **{**base, **changes})
        return check_memory(config.model_copy(update={"memory_limit": limit}), hf, baseline=0)

    refused = check(1)
    assert refused.fits is False and refused.advice == {}
    process = refused.process
    assert process is not None and process.baseline == 0
    # just below the run's peak every change that saves anything fits; halfway down to the
    # lightest of them, some do not, and they are left out
    everything = check(process.total - 1).advice
    limit = (min(everything.values()) + process.total) // 2
    advised = check(limit)
    assert advised.fits is False and advised.advice
    assert set(advised.advice) < set(everything)
    for change, total in advised.advice.items():
        again = check(limit, **parsed(change))
        assert again.fits and again.process is not None and again.process.total == total, change
        assert total <= limit


def test_merge_with_full_fine_tuning_is_a_clean_input_error(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from haechi.cli.app import app

    data = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    args = ["build", "train", "-m", str(tiny_llama_dir), "--data", str(data)]
    args += ["-o", str(tmp_path / "run"), "--method", "full", "--merge"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, InputError) and result.exception.exit_code == 2
    assert result.exception.field == "merge"
    message = str(result.exception)
    assert "OUTPUT/model" in message and "drop --merge" in message
    assert "'data'" not in message and "{" not in message  # no dump of the settings


def test_train_without_the_train_extra_names_it(tiny_llama_dir: Path, tmp_path: Path) -> None:
    """After `make demo` (the hf extra only) peft is missing: exit 2 and the pip command."""
    import subprocess

    data = jsonl(tmp_path / "pairs.jsonl", PAIRS)
    argv = ["haechi", "build", "train", "-m", str(tiny_llama_dir), "--data", str(data)]
    argv += ["-o", str(tmp_path / "run"), "--device", "cpu"]
    code = (
        "import sys; sys.modules['peft'] = None; sys.argv = " + repr(argv) + "\n"
        "from haechi.cli.app import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())  # the console wraps long lines
    assert "pip install 'haechi[train]'" in said and "'peft'" in said
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()
