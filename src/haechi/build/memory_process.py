"""The process around the tensors: what the OS counts on CPU, what the GPU holds on CUDA.

The estimate of a step (``memory_estimate``) counts the tensors alive at its peak, which is
what torch's allocator reports. Whether a run is killed depends on the process instead:

- **Baseline** (CPU): the interpreter, the imported libraries and what they touch on first
  use (code pages, kernel tables, the model classes). Measured, not modelled: the peak
  resident set (VmHWM) of a fresh interpreter that imports the run's libraries and trains
  a tiny model of 0.1M parameters for two steps (``baseline_rss``, once per
  process and set of libraries). Its tensors (well under 1 MiB) are counted twice.
- **Allocator cache**: memory freed by tensors but still held by the allocator at the peak.
  torch's CPU allocator is glibc's ``posix_memalign``. glibc maps each block of at least
  its mmap threshold on its own and unmaps it on free, so such tensors count only while
  alive; smaller blocks come from the heap, which keeps the pages it grew to (free chunks
  are reused, rarely given back). The threshold starts at 128 KiB and rises to the size of
  each mapped block freed, up to ``GLIBC_MMAP_THRESHOLD_MAX`` (32 MiB on 64-bit): after
  the first step every tensor of at most 32 MiB that is freed during a step lives on the
  heap. So the resident tensors peak at: weights + optimizer states (alive throughout)
  + the largest sum of large transient tensors at any moment + the largest sum of small
  ones at any moment (the heap's high-water mark), where the estimate has the largest sum
  of both at one moment. The difference is ``allocator_cache``. Not modelled: the top of
  the heap that glibc trims (so this is an upper bound of the heap), fragmentation inside
  it, and per-thread arenas (kernels that allocate from many threads; measured with one).
- **CUDA**: the caching allocator keeps every freed block for reuse, in a small pool
  (requests up to ``CUDA_SMALL_BLOCK``) and a large one, so reserved memory follows the
  same high-water reasoning with a 1 MiB split; the CUDA context (kernels, cuBLAS and
  cuDNN handles) adds ``CUDA_CONTEXT_BYTES``. Both are modelled from PyTorch's source and
  not yet measured (no GPU was lent); block rounding (512 B, 2 MiB, 20 MiB segments) is
  not modelled.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from haechi.build.memory import ProcessPeak, TrainingSetup, setup_from
from haechi.errors import HaechiError, MissingExtraError

if TYPE_CHECKING:
    from transformers import PretrainedConfig

GLIBC_MMAP_THRESHOLD_MAX = 32 * 2**20  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc
CUDA_SMALL_BLOCK = 2**20  # c10's kSmallSize: the caching allocator's small-pool limit
CUDA_CONTEXT_BYTES = 512 * 2**20  # typical for torch 2.x on recent GPUs; not measured here
PLAIN_LOOP = ("torch", "transformers")
TRL_LOOP = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")
BASELINE_BASIS = (
    "peak resident set of a fresh python that imports {libraries} and trains a tiny model "
    "for two steps (measured here)"
)


def block_split(device: str) -> int:
    """Tensors larger than this many bytes get their own mapping (CPU) or the large pool."""
    if device == "cuda":
        return CUDA_SMALL_BLOCK
    return GLIBC_MMAP_THRESHOLD_MAX - 1  # a 32 MiB tensor's chunk (with its header) is past it


def allocator_cache(persistent: int, moments: dict[str, int], large: dict[str, int]) -> int:
    """Bytes the allocator holds free at the peak.

    ``moments``: all bytes alive at each moment of the step; ``large``: the transient
    tensors among them larger than ``block_split`` (not the weights and optimizer states,
    ``persistent``). Resident: persistent + max(large) + max(small); alive: max(moments).
    """
    small = {name: value - persistent - large[name] for name, value in moments.items()}
    resident = persistent + max(large.values()) + max(small.values())
    return max(0, resident - max(moments.values()))


def process_peak(
    device: str,
    tensors: int,
    cache: int,
    libraries: tuple[str, ...] = PLAIN_LOOP,
    baseline: int | None = None,
) -> ProcessPeak:
    """The process figure for ``tensors`` alive at the peak and ``cache`` held free.

    ``baseline`` (CPU): bytes of the process without the tensors; by default measured once
    for ``libraries`` (``baseline_rss``). CUDA adds the context instead.
    """
    if device == "cuda":
        return ProcessPeak(
            device=device,
            tensors=tensors,
            allocator_cache=cache,
            baseline=0,
            cuda_context=CUDA_CONTEXT_BYTES,
            basis="CUDA context modelled (not measured: no GPU was lent)",
        )
    if baseline is None:
        baseline, basis = (
            baseline_rss(libraries),
            BASELINE_BASIS.format(libraries=", ".join(libraries)),
        )
    else:
        basis = "given"
    return ProcessPeak(
        device=device,
        tensors=tensors,
        allocator_cache=cache,
        baseline=baseline,
        cuda_context=0,
        basis=basis,
    )


@functools.cache
def baseline_rss(libraries: tuple[str, ...]) -> int:
    """Peak resident bytes of a fresh interpreter that imports ``libraries`` and trains a
    tiny Llama (0.1M parameters) for two steps: the process without its tensors."""
    from transformers import LlamaConfig

    tiny = LlamaConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    return process_rss(tiny, setup_from(batch_size=2, seq_len=32, device="cpu"), steps=2,
                       libraries=libraries)  # fmt: skip


def process_rss(
    config: PretrainedConfig,
    setup: TrainingSetup,
    *,
    steps: int = 3,
    seed: int = 0,
    libraries: tuple[str, ...] = PLAIN_LOOP,
    threads: int | None = None,
) -> int:
    """The peak resident set (bytes, VmHWM) of a fresh interpreter that imports
    ``libraries`` and runs ``steps`` of ``memory_measure``'s plain loop on CPU: what the
    OS counts for the whole run, the interpreter included. ``threads``: torch's CPU
    threads in the child (default: torch's own default)."""
    import importlib.util

    for name in libraries:
        if importlib.util.find_spec(name) is None:
            raise MissingExtraError(name, "hf" if name in PLAIN_LOOP else "train")
    with tempfile.TemporaryDirectory(prefix="haechi-rss-") as folder:
        config.save_pretrained(folder)
        spec = {
            "config": folder,
            "setup": setup.model_dump(mode="json"),
            "steps": steps,
            "seed": seed,
            "libraries": list(libraries),
            "threads": threads,
        }
        code = "from haechi.build.memory_process import _child; _child()"
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=1800,
        )
    if done.returncode != 0:
        raise HaechiError(f"the training process failed: {done.stderr[-2000:]}")
    return int(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss"])


def peak_rss_self() -> int:
    """This process's peak resident set in bytes (VmHWM; ru_maxrss where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        match = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        if match:
            return int(match.group(1)) * 1024
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def peak_rss_during(run: Callable[[], object]) -> int:
    """This process's peak resident set (bytes) while ``run()`` runs: VmHWM, reset first
    through /proc/self/clear_refs so that an earlier peak does not count."""
    clear = Path("/proc/self/clear_refs")
    if clear.exists():
        clear.write_text("5")  # resets VmHWM to the current resident size
    run()
    return peak_rss_self()


def _child() -> None:
    """``process_rss``'s child: import, run the steps, print the peak resident set."""
    import importlib

    spec = json.loads(sys.stdin.read())
    for name in spec["libraries"]:
        importlib.import_module(name)
    import torch

    from haechi.build.memory import load_config
    from haechi.build.memory_measure import prepare_steps

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    setup = TrainingSetup.model_validate(spec["setup"])
    step, _ = prepare_steps(load_config(spec["config"]), setup, spec["seed"], [])
    for _ in range(spec["steps"]):
        step()
    print(json.dumps({"peak_rss": peak_rss_self()}))
