"""The process around the tensors: the allocator's cache, the measured baseline, the CUDA
context, and the estimate against the peak resident set of a real training process."""

from __future__ import annotations

import json
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from haechi.build.memory import setup_from  # noqa: E402
from haechi.build.memory_estimate import estimate, estimate_setup  # noqa: E402
from haechi.build.memory_process import (  # noqa: E402
    CUDA_CONTEXT_BYTES,
    GLIBC_MMAP_THRESHOLD_MAX,
    PLAIN_LOOP,
    allocator_cache,
    baseline_rss,
    block_split,
    process_rss,
)

MIB = 2**20
# a Llama of 18.6M parameters whose 4 x 256 step keeps ~0.5 GiB of tensors, with a
# vocabulary large enough that its logits (47 MiB) are mapped apart from glibc's heap
SMALL = dict(
    vocab_size=12000,
    hidden_size=384,
    intermediate_size=1024,
    num_hidden_layers=6,
    num_attention_heads=6,
    num_key_value_heads=2,
    tie_word_embeddings=False,
)


def llama(**overrides: Any) -> Any:
    return transformers.LlamaConfig(**{**SMALL, **overrides})


def test_allocator_cache_by_hand() -> None:
    # persistent 100; moment a: 30 large + 10 small alive; moment b: 0 large + 25 small.
    # Resident: 100 + max(large) 30 + max(small) 25 = 155; alive at most 140 → 15 cached.
    moments = {"a": 140, "b": 125}
    assert allocator_cache(100, moments, {"a": 30, "b": 0}) == 15
    # one moment peaks in both kinds: nothing is held beyond it
    assert allocator_cache(100, {"a": 140, "b": 105}, {"a": 30, "b": 0}) == 0
    assert block_split("cpu") == GLIBC_MMAP_THRESHOLD_MAX - 1 == 32 * MIB - 1
    assert block_split("cuda") == MIB


def test_report_fields_on_cpu_and_cuda() -> None:
    cpu = estimate(llama(), batch_size=4, seq_len=256, device="cpu")
    p = cpu.process
    assert p.tensors == cpu.total == max(cpu.moments.values())
    assert p.baseline == baseline_rss(PLAIN_LOOP) > 100 * MIB  # torch and transformers imported
    assert p.cuda_context == 0 and p.allocator_cache > 0
    assert p.total == p.tensors + p.allocator_cache + p.baseline
    assert "fresh python" in p.basis
    # "will it fit" is the process's figure, not the tensors'
    between = (cpu.total + p.total) // 2
    assert not cpu.fits(between) and cpu.fits(p.total)

    cuda = estimate(llama(), batch_size=4, seq_len=256, device="cuda")
    assert cuda.process.baseline == 0 and cuda.process.cuda_context == CUDA_CONTEXT_BYTES
    assert cuda.process.total == cuda.total + cuda.process.allocator_cache + CUDA_CONTEXT_BYTES
    assert "not measured" in cuda.process.basis
    assert "framework_overhead" not in cuda.other_items  # the context is not a tensor


def test_given_baseline_is_used() -> None:
    setup = setup_from(batch_size=2, seq_len=64, device="cpu")
    result = estimate_setup(llama(), setup, baseline=123 * MIB)
    assert result.process.baseline == 123 * MIB and result.process.basis == "given"


@pytest.mark.slow
def test_process_estimate_matches_the_peak_rss_of_a_training_process() -> None:
    """A real fp32 AdamW loop in a fresh interpreter (3 steps, 1 thread): its peak resident
    set, as the OS counts it, against the process figure and against the tensors alone."""
    cfg = llama()
    setup = setup_from(batch_size=4, seq_len=256, device="cpu")
    expected = estimate_setup(cfg, setup)
    measured = process_rss(cfg, setup, steps=3, threads=1)
    error = (expected.process.total - measured) / measured
    # observed −5 % to −10 % here (the measured peak moves ±3 % between runs on a busy
    # machine; heap fragmentation is not modelled): 15 % keeps the test from flaking
    assert abs(error) <= 0.15, (expected.process, measured)
    # the tensors alone (the figure "will it fit" used before) miss a third of the process
    assert (expected.total - measured) / measured < -0.25


def test_cli_shows_both_figures(tmp_path: Any) -> None:
    import typer
    from typer.testing import CliRunner

    from haechi.cli.build_memory_cmd import estimate_command

    app = typer.Typer()
    app.command("estimate")(estimate_command)
    app.command("other")(lambda: None)  # keep "estimate" a subcommand
    llama().save_pretrained(tmp_path)
    args = ["estimate", "-m", str(tmp_path), "--batch-size", "4", "--seq-len", "256"]
    args += ["--device", "cpu"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"] == data["process"]["tensors"]
    assert data["process"]["total"] > data["total"] + data["process"]["baseline"] - 1
    table = CliRunner().invoke(app, [*args, "--gpu-memory", str(data["process"]["total"] - 1)])
    assert table.exit_code == 0, table.output
    assert "tensors at the peak" in table.output
    assert "expected process peak (RSS)" in table.output
    assert "interpreter and libraries" in table.output and "NO" in table.output
