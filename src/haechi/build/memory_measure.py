"""Measure the peak memory of real training steps, next to the estimate for the same setup.

The model is built from its config with random weights (the memory of a step does not
depend on the values), then ``steps`` optimizer steps run: forward, loss, backward (over
``grad_accum`` micro-batches), optimizer step, ``zero_grad(set_to_none=True)``. The first
step has no optimizer states during its forward, so at least two steps are needed to see
the steady-state peak.

How the peak is read:
- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (the caching
  allocator's live tensor bytes; the CUDA context and cached-but-free blocks are not in it).
- CPU: torch has no allocation counter for CPU, so the steps run under ``torch.profiler``
  with ``profile_memory=True``, which records every allocation and free that torch's CPU
  allocator makes (kernels' scratch buffers included). The peak is the bytes of the
  tensors alive before the steps (weights, buffers, inputs) plus the largest running sum
  of those events. This counts tensor bytes exactly, like ``max_memory_allocated`` does on
  CUDA, where the process's resident size would add Python, libraries and malloc's
  caching. If the profiler's event API is missing, the peak resident set size (VmHWM,
  reset through /proc/self/clear_refs) above the resident size before the steps is the
  fallback, and ``method`` says so.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from haechi.build.memory import (
    DEFAULT_LORA_TARGETS,
    Attention,
    Device,
    MeasuredPeak,
    OptimizerName,
    Precision,
    TrainingSetup,
    load_config,
    setup_from,
)
from haechi.build.memory_estimate import estimate_setup
from haechi.errors import HaechiError, InputError, MissingExtraError

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig

CPU_METHOD = "torch.profiler CPU allocation events (tensor bytes alive before the steps + largest running sum)"
CUDA_METHOD = "torch.cuda.max_memory_allocated"
RSS_METHOD = "resident set size peak (VmHWM) above the size before the steps"
# libkineto writes these to stderr on every profiler start and stop
_KINETO_CHATTER = re.compile(r"^(USDT|STAGE):.*SyncActivityProfilerHandler")


def measure(
    model: str | Path | PretrainedConfig,
    *,
    batch_size: int,
    seq_len: int,
    precision: Precision = "fp32",
    optimizer: OptimizerName = "adamw",
    grad_checkpointing: bool = False,
    lora_rank: int | None = None,
    grad_accum: int = 1,
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS,
    attention: Attention = "sdpa",
    steps: int = 3,
    device: Device = "cpu",
    seed: int = 0,
) -> MeasuredPeak:
    """Run ``steps`` training steps of a randomly initialised ``model`` and return the peak
    memory (bytes) next to ``estimate`` for the same settings.

    ``model`` is a hub id, a folder, a ``config.json`` or a ``PretrainedConfig``.
    Raises ``InputError`` for settings this machine cannot run (8-bit AdamW without CUDA,
    CUDA without a GPU, fewer than two steps) and ``MissingExtraError`` without peft (LoRA)
    or bitsandbytes (8-bit AdamW).
    """
    setup = setup_from(
        batch_size=batch_size,
        seq_len=seq_len,
        precision=precision,
        optimizer=optimizer,
        grad_checkpointing=grad_checkpointing,
        lora_rank=lora_rank,
        lora_targets=tuple(lora_targets),
        grad_accum=grad_accum,
        attention=attention,
        device=device,
    )
    config = model if not isinstance(model, (str, Path)) else load_config(model)
    name = str(model) if isinstance(model, (str, Path)) else None
    return measure_setup(config, setup, steps=steps, seed=seed, model=name)


def measure_setup(
    config: PretrainedConfig,
    setup: TrainingSetup,
    *,
    steps: int = 3,
    seed: int = 0,
    model: str | None = None,
) -> MeasuredPeak:
    """``measure`` for an already validated ``TrainingSetup``."""
    import torch

    if steps < 2:
        raise InputError(
            "measure at least 2 steps", field="steps", hint="the first has no optimizer states"
        )
    expected = estimate_setup(config, setup, model=model)
    if setup.device == "cuda" and not torch.cuda.is_available():
        raise InputError("no CUDA device is available", field="device", hint="use --device cpu")
    if setup.optimizer == "adamw-8bit" and setup.device != "cuda":
        raise InputError(
            "8-bit AdamW (bitsandbytes) is measured on CUDA only",
            field="optimizer",
            hint="use --device cuda",
        )
    losses: list[float] = []
    step, before = prepare_steps(config, setup, seed, losses)
    if setup.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        peak, method = int(torch.cuda.max_memory_allocated()), CUDA_METHOD
    else:
        peak, method = _cpu_peak(lambda: [step() for _ in range(steps)], before)
    return MeasuredPeak(
        model=expected.model,
        setup=setup,
        steps=steps,
        method=method,
        peak_bytes=peak,
        estimate=expected,
        losses=losses,
    )


def prepare_steps(
    config: PretrainedConfig, setup: TrainingSetup, seed: int, losses: list[float]
) -> tuple[Callable[[], None], int]:
    """A randomly initialised model, its optimizer and a batch of random token ids: the
    function that runs one optimizer step (appending its loss to ``losses``) and the bytes
    of the tensors alive before the first (weights, buffers, inputs)."""
    import torch

    torch.manual_seed(seed)
    net = _build(config, setup)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = _optimizer(setup.optimizer, params)
    dev = torch.device(setup.device)
    ids = torch.randint(0, int(config.vocab_size), (setup.batch_size, setup.seq_len), device=dev)
    before = sum(_nbytes(t) for t in [*net.parameters(), *net.buffers(), ids])
    return _step_function(net, opt, ids, setup, losses), before


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _build(config: PretrainedConfig, setup: TrainingSetup) -> torch.nn.Module:
    import torch
    from transformers import AutoModelForCausalLM

    net = AutoModelForCausalLM.from_config(
        config, attn_implementation=setup.attention, dtype=torch.float32
    )
    if setup.precision == "bf16":
        net = net.to(torch.bfloat16)
    net = net.to(setup.device)
    if setup.grad_checkpointing:
        if hasattr(net, "activation_checkpointing_enable"):
            net.activation_checkpointing_enable()
        else:  # transformers < 5
            net.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
    if setup.lora_rank is not None:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as exc:
            raise MissingExtraError("peft", "train") from exc
        lora = LoraConfig(
            r=setup.lora_rank,
            lora_alpha=2 * setup.lora_rank,
            lora_dropout=0.0,
            target_modules=list(setup.lora_targets),
        )
        net = get_peft_model(net, lora)
    net.train()
    return net


def _optimizer(name: OptimizerName, params: list[Any]) -> Any:
    import torch

    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-4)
    if name == "sgd":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params)
    try:
        import bitsandbytes as bnb
    except ImportError as exc:
        raise MissingExtraError("bitsandbytes", "train") from exc
    return bnb.optim.AdamW8bit(params, lr=1e-4)


def _step_function(
    net: torch.nn.Module, opt: Any, ids: torch.Tensor, setup: TrainingSetup, losses: list[float]
) -> Callable[[], None]:
    """One optimizer step over ``grad_accum`` micro-batches, as a trainer would run it."""
    import torch

    dtype = {"bf16-mixed": torch.bfloat16, "fp16-mixed": torch.float16}.get(setup.precision)
    scaler = torch.amp.GradScaler(setup.device) if setup.precision == "fp16-mixed" else None

    def autocast() -> contextlib.AbstractContextManager[Any]:
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(setup.device, dtype=dtype)

    def step() -> None:
        total = 0.0
        for _ in range(setup.grad_accum):
            with autocast():
                # only the loss leaves the forward: the logits in the output are dropped
                loss = net(input_ids=ids, labels=ids, use_cache=False).loss / setup.grad_accum
            (scaler.scale(loss) if scaler else loss).backward()
            total += float(loss.detach())
            del loss
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(total)

    return step


def _cpu_peak(run: Callable[[], object], before: int) -> tuple[int, str]:
    if not _profiler_reports_memory():
        return _rss_peak(run, before), RSS_METHOD
    from torch.profiler import ProfilerActivity, profile

    with _quiet_kineto(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    live = high = 0
    for _, delta in _memory_events(prof):
        live += delta
        high = max(high, live)
    return before + high, CPU_METHOD


def _memory_events(prof: Any) -> list[tuple[int, int]]:
    """``(time ns, bytes allocated or, negative, freed)`` of the CPU allocator, in order."""
    events = prof.profiler.kineto_results.events()
    pairs = [
        (e.start_ns(), e.nbytes())
        for e in events
        if e.name() == "[memory]" and e.device_type().name == "CPU"
    ]
    return sorted(pairs, key=lambda pair: pair[0])


def _profiler_reports_memory() -> bool:
    """Whether this torch's profiler exposes allocation events (a private API)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    try:
        with (
            _quiet_kineto(),
            profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof,
        ):
            probe = torch.empty(1024)
            del probe
        return len(_memory_events(prof)) == 2
    except (AttributeError, RuntimeError):
        return False


def _rss_peak(run: Callable[[], object], before: int) -> int:
    status = Path("/proc/self/status")
    if not status.exists():
        raise HaechiError("cannot measure CPU memory here: neither profiler events nor /proc")

    def kib(field: str) -> int:
        match = re.search(rf"^{field}:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        return int(match.group(1)) * 1024 if match else 0

    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current size
    start = kib("VmRSS")
    run()
    return before + kib("VmHWM") - start


@contextlib.contextmanager
def _quiet_kineto() -> Iterator[None]:
    """Hold back libkineto's start/stop lines on stderr (fd 2); pass everything else on."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines():
                if not _KINETO_CHATTER.match(line):
                    os.write(2, (line + "\n").encode())
