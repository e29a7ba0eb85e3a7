"""The memory check before a fine-tuning run, and the peak it reaches.

A ``TrainConfig`` maps onto the estimator's ``TrainingSetup`` (``memory_estimate``) with
the same names for precision and optimizer; the sequence length is ``max_length``, so the
estimate assumes every micro-batch is full (an upper bound without packing). What TRL,
peft and bitsandbytes do differently from the estimator's plain loop (the fused LM head,
LoRA dropout, NF4 weights) is added per moment of the step (``train_overheads``). DPO
trains on two sequences a pair (the setup's batch is doubled) and adds its reference
model (``train_overheads``: weights for full fine-tuning, and the reference's forward).

Whether it fits is decided on the process's figure (``memory_process``): on CPU the
resident set (the baseline of a process with TRL's libraries, measured once; the tensors;
what glibc keeps after frees), on CUDA reserved memory plus the context. Advice is only
given for changes whose own estimate fits.

The peak: ``torch.cuda.max_memory_allocated`` on CUDA. On CPU, by default, the process's
peak resident set during training (VmHWM), compared with the process figure;
``cpu_peak="profiler"`` reads torch's allocator events instead (exact tensor bytes, as
``memory_measure`` does, compared with the tensors at the peak), at the cost of slower
steps and of memory for every event of the run.
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
    ProcessPeak,
    TrainingSetup,
    architecture,
    setup_from,
)
from haechi.build.memory_estimate import estimate_setup, large_transients
from haechi.build.memory_process import (
    TRL_LOOP,
    allocator_cache,
    baseline_rss,
    block_split,
    peak_rss_during,
    process_peak,
)
from haechi.build.train_config import MemoryCheck, TrainConfig
from haechi.build.train_overheads import overheads
from haechi.errors import InputError

if TYPE_CHECKING:
    from transformers import PretrainedConfig

T = TypeVar("T")
CudaOrCpu = Literal["cuda", "cpu"]
RSS_PROCESS_METHOD = "peak resident set of this process during training (VmHWM)"


class DoesNotFitError(InputError):
    """The expected process peak exceeds the memory limit (exit 2); ``check`` holds the
    numbers, ``check.advice`` only changes whose own estimate fits."""

    def __init__(self, check: MemoryCheck) -> None:
        assert check.process is not None
        self.check = check
        tips = [f"{change} → {_mib(total)}" for change, total in check.advice.items()]
        super().__init__(
            f"the expected peak of this training process, {_mib(check.process.total)} "
            f"({_mib(check.process.tensors)} of tensors), is more than the "
            f"{_mib(check.limit)} this run may use ({check.limit_source})",
            field="memory-limit",
            hint=("settings that fit, with their expected peaks: " + "; ".join(tips))
            if tips
            else "no setting the estimator knows fits; --force to train anyway",
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


def check_memory(
    config: TrainConfig, hf_config: PretrainedConfig, baseline: int | None = None
) -> MemoryCheck:
    """Estimate the peak of a training step of ``config`` and compare the process's figure
    with the limit; when it does not fit, each alternative setting is estimated the same
    way and only those that fit are advised.

    ``baseline`` (CPU): the bytes of the training process without its tensors; by default
    measured once for TRL's libraries (``memory_process.baseline_rss``). Families the
    estimator does not cover get ``estimate=None`` (no check). Settings the estimator
    rejects raise ``InputError``.
    """
    device = resolve_device(config)
    precision = resolve_precision(config, device)
    limit, source = memory_limit(config, device)
    if str(getattr(hf_config, "model_type", "")) not in FAMILIES:
        return MemoryCheck(
            device=device, precision=precision, limit=limit, limit_source=source, estimate=None
        )
    if baseline is None and device == "cpu":
        baseline = baseline_rss(TRL_LOOP)
    found, moments, at_peak, process = _estimate(hf_config, config, device, baseline)
    advice = {}
    if process.total > limit:
        for change, update in _alternatives(config, device).items():
            *_, other = _estimate(hf_config, config.model_copy(update=update), device, baseline)
            if other.total <= limit:
                advice[change] = other.total
    return MemoryCheck(
        device=device,
        precision=precision,
        limit=limit,
        limit_source=source,
        estimate=found,
        moments=moments,
        overheads=at_peak,
        process=process,
        advice=dict(sorted(advice.items(), key=lambda item: item[1])),
    )


def training_setup(config: TrainConfig, device: CudaOrCpu, precision: Precision) -> TrainingSetup:
    """The estimator's view of one optimizer step of ``config`` (DPO's micro-batch holds
    each pair's chosen and rejected rows)."""
    return setup_from(
        batch_size=config.batch_size * (2 if config.objective == "dpo" else 1),
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

    CUDA: ``torch.cuda.max_memory_allocated`` (tensors). CPU, ``cpu_peak="rss"``: this
    process's peak resident set during ``run`` (what the OS counts);
    ``cpu_peak="profiler"``: torch's allocator events (tensors), ``before`` being the
    bytes of the tensors alive before (the model).
    """
    from haechi.build.memory_measure import CUDA_METHOD, _cpu_peak

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
    peak = peak_rss_during(lambda: box.append(run()))
    return box[0], peak, RSS_PROCESS_METHOD


def comparable_estimate(check: MemoryCheck, method: str) -> int | None:
    """The estimate to set beside a peak read by ``method``: the process's figure for the
    resident set, the tensors at the peak for the allocators' own counts."""
    if check.process is None:
        return None
    return check.process.total if method == RSS_PROCESS_METHOD else check.process.tensors


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _estimate(
    hf_config: PretrainedConfig, config: TrainConfig, device: CudaOrCpu, baseline: int | None
) -> tuple[MemoryEstimate, dict[str, int], dict[str, int], ProcessPeak]:
    """The estimator's step for ``config``, its moments with TRL's, peft's and
    bitsandbytes' overheads, those overheads at the new peak moment, and the process."""
    setup = training_setup(config, device, resolve_precision(config, device))
    found = estimate_setup(hf_config, setup, model=config.model, baseline=baseline)
    arch = architecture(hf_config)
    quantized = config.method == "qlora"
    dpo = config.objective == "dpo"
    dropout = 0.0 if dpo else config.lora_dropout  # TRL's DPO turns dropout off
    reference = None
    if dpo:
        separate = config.method == "full" and not config.precompute_ref
        reference = found.weights if separate else 0
    extra = overheads(arch, setup, quantized, dropout, reference=reference)
    moments = extra.apply(found.moments)
    peak = max(moments, key=lambda name: moments[name])
    split = block_split(device)
    large = overheads(arch, setup, quantized, dropout, split, reference=reference).apply(
        large_transients(arch, setup)
    )
    persistent = found.weights + found.optimizer_states + extra.persistent
    cache = allocator_cache(persistent, moments, large)
    process = process_peak(device, moments[peak], cache, baseline=baseline)
    if baseline is not None and device == "cpu":
        process = process.model_copy(update={"basis": found.process.basis})
    return found, moments, extra.by_moment.get(peak, {}), process


def _alternatives(config: TrainConfig, device: CudaOrCpu) -> dict[str, dict[str, object]]:
    """Changes of settings that lower the estimate, one at a time and all together: the
    CLI flags of each and the ``TrainConfig`` fields they set."""
    changes: list[dict[str, object]] = []
    if not config.grad_checkpointing:
        changes.append({"grad_checkpointing": True})
    if config.method == "full":
        changes.append({"method": "lora"})
        if config.objective == "dpo" and not config.precompute_ref:
            changes.append({"precompute_ref": True})
        if config.precision != "bf16":
            changes.append({"precision": "bf16"})
    if config.batch_size > 1:
        changes.append({"batch_size": 1, "grad_accum": config.batch_size * config.grad_accum})
    if config.max_length > 256:
        changes.append({"max_length": config.max_length // 2})
    if device == "cuda" and config.optimizer == "adamw":
        changes.append({"optimizer": "adamw-8bit"})
    if device == "cuda" and config.method != "qlora":
        changes.append({"method": "qlora"})
    out = {flags(update): update for update in changes}
    if len(changes) > 1:
        together: dict[str, object] = {}
        for update in changes:
            together.update(update)
        if together.get("method") == "qlora":  # QLoRA computes in bf16 anyway
            together.pop("precision", None)
        out["all of: " + flags(together)] = together
    return out


def flags(update: dict[str, object]) -> str:
    """The CLI flags that set these ``TrainConfig`` fields."""
    parts = []
    for field, value in update.items():
        name = "--" + field.replace("_", "-")
        parts.append(name if value is True else f"{name} {value}")
    return " ".join(parts)
