"""Training-memory anatomy: hand-checked components, autograd's saved tensors, CPU peaks."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from haechi.build.memory import architecture, setup_from  # noqa: E402
from haechi.build.memory_activations import activations  # noqa: E402
from haechi.build.memory_estimate import estimate, parameters  # noqa: E402
from haechi.build.memory_measure import measure  # noqa: E402
from haechi.errors import InputError, MissingExtraError  # noqa: E402

# vocab 512, hidden 64, MLP 128, 2 layers, 4 heads of 16, 2 key/value heads, untied
TINY = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    tie_word_embeddings=False,
)
TINY_PARAMS = (
    512 * 64  # embedding
    + 2 * (64 * 64 + 64 * 32 + 64 * 32 + 64 * 64 + 3 * 64 * 128 + 2 * 64)  # layers
    + 64  # final norm
    + 512 * 64  # lm_head
)  # = 139,584


pytestmark = pytest.mark.usefixtures("one_thread")


def config(family: str = "llama", **overrides: Any) -> Any:
    return transformers.AutoConfig.for_model(family, **{**TINY, **overrides})


def instantiated_count(cfg: Any) -> int:
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("family", "overrides"),
    [
        ("llama", {}),
        ("llama", {"tie_word_embeddings": True, "attention_bias": True, "mlp_bias": True}),
        ("mistral", {}),
        ("qwen2", {}),
        ("qwen3", {"head_dim": 32}),
        ("gemma", {"head_dim": 32}),
    ],
)
def test_parameter_count_equals_the_instantiated_model(family: str, overrides: Any) -> None:
    cfg = config(family, **overrides)
    result = estimate(cfg, batch_size=1, seq_len=8, device="cpu")
    assert result.parameters == instantiated_count(cfg)


def test_llama2_7b_parameter_count() -> None:
    cfg = transformers.LlamaConfig(
        vocab_size=32000,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
    )
    result = estimate(cfg, batch_size=1, seq_len=2048, precision="bf16-mixed")
    assert result.parameters == 6_738_415_616
    assert not result.fits(80 * 10**9)  # full AdamW: 16 bytes per parameter before activations
    lora = estimate(cfg, batch_size=1, seq_len=2048, precision="bf16-mixed", lora_rank=16)
    assert lora.fits(80 * 10**9)
    assert lora.gpu_memory is None and lora.fits_gpu is None


@pytest.mark.parametrize(
    ("precision", "optimizer", "weights", "grads", "states"),
    [  # bytes per parameter, as the HF guide counts them where torch allocates them
        ("fp32", "adamw", 4, 4, 8),
        ("bf16-mixed", "adamw", 4, 4, 8),  # fp32 master weights and gradients
        ("fp16-mixed", "sgd", 4, 4, 4),
        ("fp32", "sgd", 4, 4, 4),
        ("bf16", "adamw", 2, 2, 4),  # states are made like the bf16 parameter
        ("bf16", "sgd", 2, 2, 2),
    ],
)
def test_bytes_per_parameter(
    precision: str, optimizer: str, weights: int, grads: int, states: int
) -> None:
    result = estimate(
        config(),
        batch_size=1,
        seq_len=8,
        precision=precision,
        optimizer=optimizer,  # type: ignore[arg-type]
    )
    assert result.parameters == TINY_PARAMS == 139_584
    assert (result.weights, result.gradients, result.optimizer_states) == (
        weights * TINY_PARAMS,
        grads * TINY_PARAMS,
        states * TINY_PARAMS,
    )


def test_adafactor_and_8bit_states_by_hand() -> None:
    # Adafactor: rows + cols fp32 numbers per matrix, the whole vector for norms
    matrices = 2 * (512 + 64) + 2 * ((64 + 64) + 2 * (32 + 64) + (64 + 64) + 3 * (128 + 64))
    vectors = 2 * 2 * 64 + 64
    result = estimate(config(), batch_size=1, seq_len=8, optimizer="adafactor")
    assert result.optimizer_states == (matrices + vectors) * 4 == 14_080
    # 8-bit AdamW: 2 bytes + two fp32 scales per 256 values for tensors of ≥ 4096 values
    # (embedding, lm_head, q, o, gate, up, down), fp32 states (8 bytes) for the rest
    big = [512 * 64] * 2 + [64 * 64, 64 * 64, 64 * 128, 64 * 128, 64 * 128] * 2
    small = [64 * 32] * 4 + [64] * 5
    expected = sum(2 * n + 2 * (n // 256) * 4 for n in big) + sum(8 * n for n in small)
    result = estimate(config(), batch_size=1, seq_len=8, optimizer="adamw-8bit")
    assert result.optimizer_states == expected == 334_336


def test_lora_counts_adapters_like_peft() -> None:
    peft = pytest.importorskip("peft")
    cfg = config()
    for targets in (("q_proj", "v_proj"), ("q_proj", "k_proj", "v_proj", "o_proj", "down_proj")):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
        lora = peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules=list(targets)))
        trainable, total = lora.get_nb_trainable_parameters()
        result = estimate(cfg, batch_size=1, seq_len=8, lora_rank=8, lora_targets=targets)
        assert (result.trainable_parameters, result.parameters) == (trainable, total)
        # frozen base: weights only; fp32 adapters: weights, gradients and AdamW states
        assert result.weights == 4 * total
        assert (result.gradients, result.optimizer_states) == (4 * trainable, 8 * trainable)


def saved_for_backward(model: Any, ids: Any, autocast: Any) -> int:
    """Bytes autograd keeps for backward: distinct storages, parameters excluded."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen.setdefault(storage.data_ptr(), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast:
        model(input_ids=ids, labels=ids, use_cache=False)
    return sum(seen.values())


@pytest.mark.parametrize(
    ("family", "precision", "extra", "overrides"),
    [
        ("llama", "fp32", {}, {}),
        ("llama", "bf16-mixed", {}, {}),
        ("llama", "bf16", {}, {}),
        ("llama", "fp32", {"attention": "eager"}, {}),
        ("llama", "bf16-mixed", {"attention": "eager"}, {}),
        ("llama", "fp32", {"lora_rank": 4}, {}),
        ("llama", "bf16-mixed", {"lora_rank": 4}, {}),
        ("llama", "bf16", {"lora_rank": 4, "lora_targets": ("k_proj", "down_proj")}, {}),
        ("qwen2", "bf16-mixed", {}, {}),
        ("qwen3", "fp32", {}, {"head_dim": 32}),
        ("gemma", "bf16", {}, {"head_dim": 32}),
        ("mistral", "fp32", {}, {"sliding_window": 8}),  # shorter than the sequence: a mask
    ],
)
def test_activations_equal_what_autograd_saves(
    family: str, precision: str, extra: dict[str, Any], overrides: dict[str, Any]
) -> None:
    cfg = config(family, **overrides)
    setup = setup_from(batch_size=2, seq_len=24, precision=precision, device="cpu", **extra)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation=setup.attention)
    if precision == "bf16":
        model = model.to(torch.bfloat16)
    if setup.lora_rank:
        peft = pytest.importorskip("peft")
        targets = list(setup.lora_targets)
        model = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=targets))
    model.train()
    autocast = (
        torch.autocast("cpu", dtype=torch.bfloat16)
        if precision == "bf16-mixed"
        else contextlib.nullcontext()
    )
    ids = torch.randint(0, 512, (2, 24))
    acts = activations(architecture(cfg), setup)
    assert acts.saved + acts.layer_copies + acts.head_copies == saved_for_backward(
        model, ids, autocast
    )


# A small Llama whose steps take well under a second on a laptop CPU.
SMALL = dict(TINY, vocab_size=2048, hidden_size=128, intermediate_size=344, num_attention_heads=8)
CPU_BOUND = 0.15  # observed ≤ 3% here; room for CPU kernels (oneDNN) that allocate otherwise


@pytest.mark.parametrize(
    "settings",
    [
        {"precision": "fp32", "optimizer": "adamw"},
        {"precision": "fp32", "optimizer": "sgd"},
        {"precision": "bf16", "optimizer": "adamw"},
        {"precision": "bf16-mixed", "optimizer": "adamw"},
        {"precision": "fp32", "grad_checkpointing": True},
        {"precision": "bf16-mixed", "grad_checkpointing": True},
        {"precision": "fp32", "lora_rank": 8},
        {"precision": "bf16-mixed", "lora_rank": 8, "grad_checkpointing": True},
        {"precision": "fp32", "optimizer": "adafactor"},
        {"precision": "fp32", "grad_accum": 2},
        {"precision": "fp32", "batch_size": 1, "seq_len": 8},  # the optimizer step peaks
        {"precision": "fp32", "tied": True, "optimizer": "sgd", "seq_len": 8},  # tied embedding
        {"precision": "fp32", "vocab": 64},  # small vocabulary: the layers' backward peaks
        {"precision": "bf16-mixed", "vocab": 64, "grad_checkpointing": True},
    ],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()),
)
def test_estimate_matches_measured_peak_on_cpu(settings: dict[str, Any]) -> None:
    settings = dict(settings)
    if settings.get("lora_rank"):
        pytest.importorskip("peft")
    tied, vocab = settings.pop("tied", False), settings.pop("vocab", SMALL["vocab_size"])
    cfg = config(**{**SMALL, "tie_word_embeddings": tied, "vocab_size": vocab})
    kwargs: dict[str, Any] = {"batch_size": 4, "seq_len": 64, **settings}
    result = measure(cfg, device="cpu", steps=3, **kwargs)
    assert result.steps == 3 and len(result.losses) == 3
    assert result.method.startswith("torch.profiler")
    assert abs(result.relative_error) <= CPU_BOUND, (result.estimate.peak_moment, result)
    # the CPU estimate has no framework overhead, so the total is what is compared
    assert result.estimated_bytes == result.estimate.total


def test_components_and_moments_are_consistent() -> None:
    cfg = config(**SMALL)
    base = estimate(cfg, batch_size=4, seq_len=64, device="cpu")
    assert sum(base.at_peak.values()) == base.total == max(base.moments.values())
    accum = estimate(cfg, batch_size=4, seq_len=64, grad_accum=4, device="cpu")
    assert accum.total > base.total and accum.at_peak["gradients"] == accum.gradients
    ckpt = estimate(cfg, batch_size=4, seq_len=64, grad_checkpointing=True, device="cpu")
    assert ckpt.activations < base.activations
    eager = estimate(cfg, batch_size=4, seq_len=64, attention="eager", device="cpu")
    assert eager.activations > base.activations
    cuda = estimate(cfg, batch_size=4, seq_len=64, device="cuda")
    assert cuda.total == max(cuda.moments.values())  # the CUDA context is the process's
    assert cuda.process.total > cuda.total


def test_bad_settings_are_input_errors() -> None:
    with pytest.raises(InputError, match="precision"):
        estimate(config(), batch_size=1, seq_len=8, precision="fp8")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="lora-targets"):
        estimate(config(), batch_size=1, seq_len=8, lora_rank=4, lora_targets=("qkv",))
    with pytest.raises(InputError, match="gpt2"):
        estimate(transformers.GPT2Config(), batch_size=1, seq_len=8)
    with pytest.raises(InputError, match="CUDA"):
        measure(config(), batch_size=1, seq_len=8, optimizer="adamw-8bit", device="cpu")


def test_lora_without_peft_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(MissingExtraError, match=r"haechi\[train\]"):
        measure(config(), batch_size=1, seq_len=8, lora_rank=4, device="cpu")


def test_parameters_list_holds_every_tensor_once() -> None:
    setup = setup_from(batch_size=1, seq_len=8, lora_rank=2)
    tensors = parameters(architecture(config()), setup)
    base = [t for t in tensors if not t.trainable]
    assert sum(t.numel for t in base) == TINY_PARAMS
    # per layer and rank: q (64 in, 64 out) and v (64 in, 32 out) adapters
    assert sum(t.numel for t in tensors if t.trainable) == 2 * 2 * ((64 + 64) + (64 + 32))


# ---- command line --------------------------------------------------------------------------


def cli() -> Any:
    import typer

    from haechi.cli.build_memory_cmd import estimate_command, measure_command

    app = typer.Typer()
    app.command("estimate")(estimate_command)
    app.command("measure")(measure_command)
    return app


def test_cli_estimate_json_and_table(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    config().save_pretrained(tmp_path)
    runner = CliRunner()
    args = ["estimate", "--model", str(tmp_path / "config.json"), "--batch-size", "2"]
    args += ["--seq-len", "32", "--precision", "bf16-mixed", "--gpu-memory", "24GiB", "--json"]
    result = runner.invoke(cli(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("weights", "gradients", "optimizer_states", "activations", "other", "total"):
        assert isinstance(data[key], int)
    assert data["weights"] == 4 * TINY_PARAMS and data["fits_gpu"] is True
    table = runner.invoke(cli(), args[:-1])
    assert table.exit_code == 0 and "tensors at the peak" in table.output
    bad = runner.invoke(cli(), [*args[:-3], "--precision", "fp64"])
    assert isinstance(bad.exception, InputError) and bad.exception.exit_code == 2


def test_cli_measure_json_on_cpu(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    config().save_pretrained(tmp_path)
    args = ["measure", "--model", str(tmp_path), "--batch-size", "2", "--seq-len", "16"]
    result = CliRunner().invoke(cli(), [*args, "--device", "cpu", "--steps", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["peak_bytes"] > data["estimate"]["weights"]
    assert abs(data["relative_error"]) <= CPU_BOUND
