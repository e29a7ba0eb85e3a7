"""The memory check before a fine-tuning run, and the peak it reaches.

A ``TrainConfig`` maps onto the estimator's ``TrainingSetup`` (``memory_estimate``) with
the same names for precision and optimizer; the sequence length is ``max_length``, so the
estimate assumes every micro-batch is full (an upper bound without packing). What TRL,
peft and bitsandbytes do differently from the estimator's plain loop (the fused LM head,
LoRA dropout, NF4 weights) is added per moment of the step (``train_overheads``).

The peak: ``torch.cuda.max_memory_allocated`` on CUDA. On CPU, by default, the process's
resident-set peak above its size before training, plus the model's tensors: cheap, but
it includes what the allocator caches and libraries load, so it reads higher than the
estimate of tensor bytes. ``cpu_peak="profiler"`` reads torch's allocator events instead
(exact tensor bytes, as ``memory_measure`` does), at the cost of slower steps and of
memory for every event of the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from haechi.build.memory import (
    FAMILIES,
    MemoryEstimate,
    Precision,
    TrainingSetup,
    architecture,
    setup_from,
)
from haechi.build.memory_estimate import estimate_setup
from haechi.build.train_config import MemoryCheck, TrainConfig
from haechi.build.train_overheads import overheads
from haechi.errors import InputError

if TYPE_CHECKING:
    from transformers import PretrainedConfig

T = TypeVar("T")
CudaOrCpu = Literal["cuda", "cpu"]


class DoesNotFitError(InputError):
    """The estimated peak exceeds the memory limit (exit 2); ``check`` holds the numbers."""

    def __init__(self, check: MemoryCheck) -> None:
        assert check.total is not None
        self.check = check
        tips = [f"{change} → {_mib(total)}" for change, total in check.advice.items()]
        super().__init__(
            f"the estimated peak of a training step, {_mib(check.total)}, is more "
            f"than the {_mib(check.limit)} this run may use ({check.limit_source})",
            field="memory-limit",
            hint="estimated peaks with: "
            + "; ".join(tips or ["(no setting the estimator knows lowers it)"])
            + "; or --force to train anyway",
        )


def resolve_device(config: TrainConfig) -> CudaOrCpu:
    """``cuda`` or ``cpu``; asking for CUDA without a GPU is an ``InputError``."""
    import torch

    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if config.device == "cuda" and not torch.cuda.is_available():
        raise InputError("no CUDA device is available", field="device", hint="use --device cpu")
    return config.device


def resolve_precision(config: TrainConfig, device: CudaOrCpu) -> Precision:
    """``auto``: bf16 for QLoRA, bf16-mixed on a GPU with bfloat16, fp32 otherwise."""
    if config.precision != "auto":
        return config.precision
    if config.method == "qlora":
        return "bf16"
    import torch

    if device == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "fp32"


def check_memory(config: TrainConfig, hf_config: PretrainedConfig) -> MemoryCheck:
    """Estimate the peak of a training step of ``config`` and compare it with the limit.

    Families the estimator does not cover get ``estimate=None`` (no check). Settings the
    estimator rejects raise ``InputError``.
    """
    device = resolve_device(config)
    precision = resolve_precision(config, device)
    limit, source = memory_limit(config, device)
    if str(getattr(hf_config, "model_type", "")) not in FAMILIES:
        return MemoryCheck(
            device=device, precision=precision, limit=limit, limit_source=source, estimate=None
        )
    setup = training_setup(config, device, precision)
    quantized = config.method == "qlora"
    found, moments, at_peak = _estimate(hf_config, setup, quantized, config)
    advice = {}
    if max(moments.values()) > limit:
        for change, other in _alternatives(config, setup).items():
            _, alternative, _ = _estimate(hf_config, other, quantized or "qlora" in change, config)
            advice[change] = max(alternative.values())
    return MemoryCheck(
        device=device,
        precision=precision,
        limit=limit,
        limit_source=source,
        estimate=found,
        moments=moments,
        overheads=at_peak,
        advice=dict(sorted(advice.items(), key=lambda item: item[1])),
    )


def training_setup(config: TrainConfig, device: CudaOrCpu, precision: Precision) -> TrainingSetup:
    """The estimator's view of one optimizer step of ``config``."""
    return setup_from(
        batch_size=config.batch_size,
        seq_len=config.max_length,
        precision=precision,
        optimizer=config.optimizer,
        grad_checkpointing=config.grad_checkpointing,
        lora_rank=None if config.method == "full" else config.lora_rank,
        lora_targets=tuple(config.lora_targets),
        grad_accum=config.grad_accum,
        attention=config.attention,
        device=device,
    )


def memory_limit(config: TrainConfig, device: CudaOrCpu) -> tuple[int, str]:
    """Bytes the run may use and where that number came from."""
    if config.memory_limit is not None:
        return config.memory_limit, "--memory-limit"
    if device == "cuda":
        import torch

        props = torch.cuda.get_device_properties(0)
        return int(props.total_memory), f"{props.name} memory"
    return available_ram(), "available RAM"


def available_ram() -> int:
    """MemAvailable from /proc/meminfo (bytes), or the physical memory where it is missing."""
    import os

    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
        if match:
            return int(match.group(1)) * 1024
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def measure_peak(
    device: CudaOrCpu, before: int, run: Callable[[], T], cpu_peak: str = "rss"
) -> tuple[T, int, str]:
    """``run()``'s result, its peak memory (bytes) and how it was read.

    ``before``: bytes of the tensors alive before (the model), added to the CPU peak's
    growth. ``cpu_peak``: ``rss`` or ``profiler`` (``memory_measure``'s two CPU methods).
    """
    from haechi.build.memory_measure import CUDA_METHOD, RSS_METHOD, _cpu_peak, _rss_peak

    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
        result = run()
        torch.cuda.synchronize()
        return result, int(torch.cuda.max_memory_allocated()), CUDA_METHOD
    box: list[T] = []
    if cpu_peak == "profiler":
        peak, method = _cpu_peak(lambda: box.append(run()), before)
        return box[0], peak, method
    # The kernel counts resident pages per thread and syncs them in batches, so on a tiny
    # model the growth can read slightly below zero: the model's tensors bound it below.
    peak = max(before, _rss_peak(lambda: box.append(run()), before))
    return box[0], peak, f"{RSS_METHOD}, plus the model's tensors"


def comparable_estimate(check: MemoryCheck) -> int | None:
    """The estimate to set beside the measured peak (without the CUDA context on CUDA)."""
    return check.allocated if check.device == "cuda" else check.total


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _estimate(
    hf_config: PretrainedConfig, setup: TrainingSetup, quantized: bool, config: TrainConfig
) -> tuple[MemoryEstimate, dict[str, int], dict[str, int]]:
    """The estimator's step, its moments with TRL's, peft's and bitsandbytes' overheads, and
    those overheads at the new peak moment."""
    found = estimate_setup(hf_config, setup, model=config.model)
    extra = overheads(architecture(hf_config), setup, quantized, config.lora_dropout)
    moments = extra.apply(found.moments)
    peak = max(moments, key=lambda name: moments[name])
    return found, moments, extra.by_moment.get(peak, {})


def _alternatives(config: TrainConfig, setup: TrainingSetup) -> dict[str, TrainingSetup]:
    """Changes (as CLI flags) that lower the estimate, one at a time and all together."""
    changes: dict[str, dict[str, object]] = {}
    if not setup.grad_checkpointing:
        changes["--grad-checkpointing"] = {"grad_checkpointing": True}
    if config.method == "full":
        changes["--method lora"] = {"lora_rank": config.lora_rank}
        if setup.precision != "bf16":
            changes["--precision bf16"] = {"precision": "bf16"}
    if setup.batch_size > 1:
        accum = setup.batch_size * setup.grad_accum
        changes[f"--batch-size 1 --grad-accum {accum}"] = {"batch_size": 1, "grad_accum": accum}
    if setup.seq_len > 256:
        changes[f"--max-length {setup.seq_len // 2}"] = {"seq_len": setup.seq_len // 2}
    if setup.device == "cuda" and setup.optimizer == "adamw":
        changes["--optimizer adamw-8bit"] = {"optimizer": "adamw-8bit"}
    if setup.device == "cuda" and config.method != "qlora":
        changes["--method qlora"] = {"lora_rank": config.lora_rank, "precision": "bf16"}
    out = {flag: setup.model_copy(update=update) for flag, update in changes.items()}
    if len(changes) > 1:
        together: dict[str, object] = {}
        for update in changes.values():
            together.update(update)
        if "--method qlora" in changes:  # bf16 compute is what QLoRA runs in anyway
            together["precision"] = "bf16"
        out["all of: " + ", ".join(changes)] = setup.model_copy(update=together)
    return out
