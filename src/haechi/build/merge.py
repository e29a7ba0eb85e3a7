"""Merging same-shape checkpoints (linear, SLERP, task arithmetic, TIES, DARE), streamed.

The plan reads only the models' ``config.json`` and safetensors headers: every model must
hold the same tensor names and shapes. Then each output tensor is computed from that one
tensor of every model (``merge_methods``) and written before the next is read, so memory
beyond the interpreter is a few float32 copies of the largest tensor, never a model
(``MergePlan.working_bytes``; checked against the memory limit before the first tensor).
The output folder gets the merged safetensors, the config and tokenizer files of the base
(or, without a base, of the first model), a model card, ``merge.yaml`` (the resolved
configuration: run it again for the same tensors) and ``mergekit.yaml`` (the same merge
for mergekit, to compare).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from haechi.build.checkpoint_io import (
    FLOAT_DTYPES,
    OUTPUT_DTYPES,
    Checkpoint,
    TensorInfo,
    TensorSource,
    check_out_folder,
    copy_side_files,
    parse_size,
    read_checkpoint,
    staged_folder,
    write_checkpoint,
)
from haechi.build.merge_config import MergeConfig
from haechi.build.merge_methods import TensorInputs, dare_generator
from haechi.errors import InputError

if TYPE_CHECKING:
    import torch

ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Source:
    """One input checkpoint: its tensor table and the hash of its ``config.json``."""

    checkpoint: Checkpoint
    config_sha256: str

    @property
    def directory(self) -> Path:
        return self.checkpoint.directory


@dataclass(frozen=True)
class MergePlan:
    """What a merge will write, decided from configs and headers alone.

    ``tensors`` are the output tensors (name, dtype and shape as written) in write order;
    ``working_bytes`` is the estimated memory the largest of them needs while merged.
    """

    config: MergeConfig
    models: tuple[Source, ...]
    base: Source | None
    tensors: tuple[tuple[str, TensorInfo], ...]
    working_bytes: int

    @property
    def reference(self) -> Source:
        """The checkpoint whose config and tokenizer the output takes: the base, else the first."""
        return self.base or self.models[0]

    @property
    def dtypes(self) -> tuple[str, ...]:
        return tuple(sorted({info.dtype for _, info in self.tensors}))

    @property
    def largest_tensor_bytes(self) -> int:
        return max((info.nbytes for _, info in self.tensors), default=0)


@dataclass(frozen=True)
class MergeReport:
    """What ``merge_checkpoints`` wrote; ``peak_growth`` is the measured growth of the
    process's peak resident set while merging (None where /proc is missing)."""

    out: Path
    method: str
    tensors: int
    total_bytes: int
    largest_tensor_bytes: int
    working_bytes: int
    peak_growth: int | None
    shards: tuple[str, ...]
    copied_files: tuple[str, ...]
    seconds: float


class MergeDoesNotFitError(InputError):
    """The estimated peak exceeds the memory the merge may use (exit 2)."""


def plan_merge(config: MergeConfig) -> MergePlan:
    """Check every model against the reference and decide the output tensors.

    Raises ``InputError`` for a missing folder or config, no safetensors weights, tensor
    names or shapes that differ between models, or a tensor that is not floating point.
    """
    models = tuple(_source(folder) for folder in config.models)
    base = _source(config.base) if config.base is not None else None
    reference = base or models[0]
    ref = reference.checkpoint
    for other in (s for s in (*models, base) if s is not None and s is not reference):
        _check_same_tensors(ref, other.checkpoint)
    tensors = []
    for name in _write_order(ref):
        info = ref.tensors[name]
        if info.dtype not in FLOAT_DTYPES:
            raise InputError(f"cannot merge a {info.dtype} tensor", file=str(info.file),
                             field=name, hint="merging needs floating-point tensors")  # fmt: skip
        dtype = OUTPUT_DTYPES[config.dtype] if config.dtype else info.dtype
        out = TensorInfo(name, info.file, dtype, info.shape, info.numel * FLOAT_DTYPES[dtype][1])
        tensors.append((name, out))
    largest = max((info.numel for _, info in tensors), default=0)
    working = largest * 4 * config.spec.copies(len(models))
    return MergePlan(config, models, base, tuple(tensors), working)


def check_memory(plan: MergePlan, limit: int | None = None) -> tuple[int, int, str]:
    """(expected peak, limit, where the limit came from): this process's resident set now
    plus the plan's working bytes, against ``limit`` or the available RAM; raises
    ``MergeDoesNotFitError`` when it does not fit."""
    from haechi.build.train_memory import available_ram

    source = "--memory-limit"
    if limit is None:
        limit, source = available_ram(), "available RAM"
    expected = _current_rss() + plan.working_bytes
    if expected > limit:
        raise MergeDoesNotFitError(
            f"merging needs about {expected / 2**20:,.0f} MiB ({plan.working_bytes / 2**20:,.0f} "
            f"MiB for the largest tensor), more than the {limit / 2**20:,.0f} MiB it may use "
            f"({source})",
            field="memory-limit",
            hint="free memory, or --force to merge anyway",
        )
    return expected, limit, source


def merge_checkpoints(
    config: MergeConfig,
    out: Path,
    *,
    shard_size: int | str = "2GB",
    overwrite: bool = False,
    memory_limit: int | None = None,
    force: bool = False,
    on_tensor: ProgressCallback | None = None,
) -> MergeReport:
    """Merge the checkpoints ``config`` names into the folder ``out``.

    The memory check runs first (``force`` skips its verdict); then tensors are merged and
    written one at a time into ``<out>.partial``, renamed to ``out`` at the end.
    ``on_tensor(done, total, name)`` is called after each tensor is written.
    """
    import safetensors  # noqa: F401  (imported before the peak is measured)
    import torch  # noqa: F401

    from haechi.build.memory_process import peak_rss_during
    from haechi.build.model_card import merge_card, merge_recipe, resolved_config

    started = time.perf_counter()
    plan = plan_merge(config)
    limit = parse_size(shard_size)
    inputs = [s.directory for s in (*plan.models, plan.base) if s is not None]
    check_out_folder(inputs, out, overwrite)
    if not force:
        check_memory(plan, memory_limit)
    total, done = len(plan.tensors), 0

    def written(name: str, nbytes: int) -> None:
        nonlocal done
        done += 1
        if on_tensor is not None:
            on_tensor(done, total, name)

    names: tuple[str, ...] = ()
    digests = _Digests(len(plan.models) + (plan.base is not None))
    with staged_folder(out, "the merged model") as staging:
        before = _current_rss()

        def write() -> None:
            nonlocal names
            names = write_checkpoint(staging, plan.tensors, limit, written, _merged(plan, digests))

        peak = peak_rss_during(write)
        ref = plan.reference.directory
        shutil.copy2(ref / "config.json", staging / "config.json")
        if config.dtype:
            _set_config_dtype(staging / "config.json", config.dtype)
        copied = copy_side_files(ref, staging)
        (staging / "merge.yaml").write_text(resolved_config(plan), encoding="utf-8")
        (staging / "mergekit.yaml").write_text(merge_recipe(plan), encoding="utf-8")
        card = merge_card(plan, out.name, digests.sha256())
        (staging / "README.md").write_text(card, encoding="utf-8")
    return MergeReport(
        out=out,
        method=config.method,
        tensors=total,
        total_bytes=sum(info.nbytes for _, info in plan.tensors),
        largest_tensor_bytes=plan.largest_tensor_bytes,
        working_bytes=plan.working_bytes,
        peak_growth=max(0, peak - before) if Path("/proc/self/status").exists() else None,
        shards=names,
        copied_files=copied,
        seconds=time.perf_counter() - started,
    )


def merge_tensor(plan: MergePlan, name: str, digests: _Digests | None = None) -> torch.Tensor:
    """The merged ``name`` in float32, read from every model (and the base) just now;
    ``digests`` records each input tensor's hash."""
    config = plan.config
    tensors = [load_tensor(s.checkpoint.tensors[name]) for s in plan.models]
    base = load_tensor(plan.base.checkpoint.tensors[name]) if plan.base is not None else None
    if digests is not None:
        digests.add(name, [*tensors, *([base] if base is not None else [])])
    return config.spec.kernel(
        TensorInputs(
            tensors, base, config.shared, list(config.per_model),
            lambda i: dare_generator(config.seed, name, i),
        )
    )  # fmt: skip


def load_tensor(info: TensorInfo) -> torch.Tensor:
    """One tensor from its file; the file is closed again before this returns."""
    from safetensors import safe_open

    with safe_open(str(info.file), framework="pt") as handle:
        return handle.get_tensor(info.name)


class _Digests:
    """Per input, the sha256 of each tensor's stored bytes, combined at the end into one
    hash of its weights that does not depend on the order tensors were read: sha256 over
    ``name NUL digest`` lines sorted by name."""

    def __init__(self, inputs: int) -> None:
        self.tables: list[dict[str, bytes]] = [{} for _ in range(inputs)]

    def add(self, name: str, tensors: list[torch.Tensor]) -> None:
        import torch

        for table, tensor in zip(self.tables, tensors, strict=True):
            data = tensor.contiguous().reshape(-1).view(torch.uint8).numpy()
            table[name] = hashlib.sha256(data.data).digest()

    def sha256(self) -> tuple[str, ...]:
        """One hex digest per input: the models in config order, then the base."""
        out = []
        for table in self.tables:
            lines = b"".join(
                n.encode() + b"\0" + d.hex().encode() + b"\n" for n, d in sorted(table.items())
            )
            out.append(hashlib.sha256(lines).hexdigest())
        return tuple(out)


def _merged(plan: MergePlan, digests: _Digests) -> TensorSource:
    import torch

    @contextmanager
    def read(name: str, info: TensorInfo) -> Iterator[memoryview]:
        result = (
            merge_tensor(plan, name, digests)
            .to(getattr(torch, FLOAT_DTYPES[info.dtype][0]))
            .contiguous()
        )
        yield result.reshape(-1).view(torch.uint8).numpy().data.cast("B")

    return read


def _source(folder: Path) -> Source:
    if not folder.is_dir():
        raise InputError("model folder not found", file=str(folder))
    config = folder / "config.json"
    if not config.is_file():
        raise InputError("config.json not found in the model folder", file=str(folder))
    return Source(read_checkpoint(folder), hashlib.sha256(config.read_bytes()).hexdigest())


def _check_same_tensors(ref: Checkpoint, other: Checkpoint) -> None:
    missing = sorted(set(ref.tensors) - set(other.tensors))
    extra = sorted(set(other.tensors) - set(ref.tensors))
    if missing or extra:
        what = (
            f"lacks {missing[0]}" if missing else f"has {extra[0]}, which is not in {ref.directory}"
        )
        raise InputError(
            f"the models do not hold the same tensors: this one {what} "
            f"({len(missing)} missing, {len(extra)} extra)",
            file=str(other.directory),
            hint="merging needs checkpoints of one architecture and size",
        )
    for name, info in ref.tensors.items():
        shape = other.tensors[name].shape
        if shape != info.shape:
            raise InputError(f"shape {list(shape)}, but {list(info.shape)} in {ref.directory}",
                             file=str(other.directory), field=name,
                             hint="merging needs checkpoints of one architecture and size")  # fmt: skip


def _write_order(checkpoint: Checkpoint) -> list[str]:
    """Embeddings first, then the rest by name (as the up-scaling writes them)."""
    names = sorted(checkpoint.tensors)
    return [n for n in names if "embed" in n] + [n for n in names if "embed" not in n]


def _set_config_dtype(path: Path, dtype: str) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    key = "dtype" if "dtype" in data else "torch_dtype"
    data[key] = dtype
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _current_rss() -> int:
    import re

    status = Path("/proc/self/status")
    if status.exists():
        match = re.search(r"^VmRSS:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        if match:
            return int(match.group(1)) * 1024
    return 0
