"""Depth up-scaling (DUS) as in SOLAR 10.7B (Kim et al., 2023, arXiv:2312.15166).

Two copies of an n-layer base: the first loses its last M layers, the second its first M,
and they are stacked, giving 2(n−M) layers: base layers 0…n−M−1, then M…n−1. Embeddings,
final norm and lm_head are the base's. Nothing is averaged or trained here: every output
tensor is a byte-for-byte copy of a base tensor, streamed one at a time, so peak memory is
about the largest tensor, not the model. (SOLAR then continues pre-training; that is not
part of up-scaling.)
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haechi.build.checkpoint_io import (
    Checkpoint,
    TensorInfo,
    check_out_folder,
    copy_side_files,
    parse_size,
    read_checkpoint,
    staged_folder,
    write_checkpoint,
)
from haechi.build.upscale_config import read_base_config, remap_config
from haechi.errors import InputError

log = logging.getLogger(__name__)

# The first all-digit component of a tensor name: "model.layers.3.mlp.up_proj.weight" →
# prefix "model.layers.", index 3. The decoder stack is the prefix whose indices are 0…n−1.
_INDEXED = re.compile(r"^(?P<prefix>(?:[^.]+\.)*?)(?P<index>\d+)\.(?P<rest>.+)$")
ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class UpscalePlan:
    """What an up-scaling will write, decided from headers and config alone (no tensor data).

    ``tensors`` pairs each output tensor name with the base tensor it copies, in write
    order; ``layer_map[j]`` is the base layer that new layer ``j`` copies.
    """

    source: Path
    checkpoint: Checkpoint
    base_layers: int
    removed: int
    layer_map: tuple[int, ...]
    layer_prefix: str
    tensors: tuple[tuple[str, TensorInfo], ...]
    dropped: tuple[str, ...]
    config: dict[str, Any]
    config_fields: tuple[str, ...]
    tied_embeddings: bool
    config_sha256: str

    @property
    def model_type(self) -> str | None:
        value = self.config.get("model_type")
        return value if isinstance(value, str) else None

    @property
    def dtypes(self) -> tuple[str, ...]:
        """The safetensors dtype codes of the written tensors, sorted."""
        return tuple(sorted({info.dtype for _, info in self.tensors}))


@dataclass(frozen=True)
class UpscaleReport:
    """What ``depth_upscale`` wrote. Sizes are in bytes; ``seconds`` is wall time."""

    source: Path
    out: Path
    model_type: str | None
    base_layers: int
    removed: int
    layer_map: tuple[int, ...]
    tensors: int
    total_bytes: int
    largest_tensor_bytes: int
    shards: tuple[str, ...]
    tied_embeddings: bool
    dropped_tensors: tuple[str, ...]
    config_fields: tuple[str, ...]
    copied_files: tuple[str, ...]
    base_config_sha256: str
    base_index_sha256: str
    seconds: float

    @property
    def layers(self) -> int:
        return len(self.layer_map)


def solar_layer_map(base_layers: int, remove: int) -> tuple[int, ...]:
    """Base layer of each new layer: ``0…n−M−1`` then ``M…n−1`` (2(n−M) in all)."""
    if not 0 <= remove < base_layers:
        raise InputError(
            f"cannot remove {remove} layers from each copy of a {base_layers}-layer model",
            field="remove",
            hint=f"choose 0 ≤ M < {base_layers}",
        )
    return tuple(range(base_layers - remove)) + tuple(range(remove, base_layers))


def plan_upscale(src: Path, remove: int = 8) -> UpscalePlan:
    """Check ``src`` and decide every output tensor and config field; reads no tensor data.

    Raises ``InputError`` (naming the file or field) for a missing folder, missing or
    malformed ``config.json``, no safetensors weights, ``remove`` outside ``0 ≤ M < n``, or
    a layout without a decoder stack named ``<prefix>{i}.`` for i in 0…n−1.
    """
    if not src.is_dir():
        raise InputError("model folder not found", file=str(src))
    base = read_base_config(src)
    layer_map = solar_layer_map(base.layers, remove)
    checkpoint = read_checkpoint(src)
    prefix = _layer_prefix(checkpoint, base.layers)
    has_head = "lm_head.weight" in checkpoint.tensors
    tied = base.tied if base.tied is not None else not has_head
    # A tied checkpoint that still stores lm_head: transformers ignores it, so do we.
    dropped = ("lm_head.weight",) if tied and has_head else ()
    config, fields = remap_config(base.data, layer_map, base.layer_types)
    return UpscalePlan(
        source=src,
        checkpoint=checkpoint,
        base_layers=base.layers,
        removed=remove,
        layer_map=layer_map,
        layer_prefix=prefix,
        tensors=_output_tensors(checkpoint, prefix, layer_map, dropped),
        dropped=dropped,
        config=config,
        config_fields=fields,
        tied_embeddings=tied,
        config_sha256=base.sha256,
    )


def depth_upscale(
    src: Path,
    out: Path,
    remove: int = 8,
    *,
    shard_size: int | str = "2GB",
    overwrite: bool = False,
    on_tensor: ProgressCallback | None = None,
) -> UpscaleReport:
    """Build the depth up-scaled model of the checkpoint in ``src`` into the folder ``out``.

    ``remove`` is SOLAR's M; the result has 2(n−M) layers. Writes sharded safetensors of at
    most ``shard_size`` each (int bytes, or "2GB" = 2·10^9, "2GiB" = 2^31) with
    ``model.safetensors.index.json``, the updated ``config.json``, the base's tokenizer and
    generation config, a model card (``README.md``) and the equivalent mergekit recipe
    (``mergekit.yaml``). Everything is written to ``<out>.partial`` and renamed at the end,
    so an interrupted run never leaves a complete-looking ``out``. ``on_tensor(done, total,
    name)`` is called after each tensor is written.
    """
    from haechi.build.model_card import mergekit_recipe, model_card

    started = time.perf_counter()
    plan = plan_upscale(src, remove)
    limit = parse_size(shard_size)
    check_out_folder([src], out, overwrite, "base model")
    total = len(plan.tensors)
    done = 0

    def written(name: str, nbytes: int) -> None:
        nonlocal done
        done += 1
        if on_tensor is not None:
            on_tensor(done, total, name)

    total_bytes = sum(info.nbytes for _, info in plan.tensors)
    with staged_folder(out, "the up-scaled model") as staging:
        names = write_checkpoint(staging, plan.tensors, limit, written)
        text = json.dumps(plan.config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (staging / "config.json").write_text(text, encoding="utf-8")
        copied = copy_side_files(src, staging)
        (staging / "mergekit.yaml").write_text(mergekit_recipe(plan), encoding="utf-8")
        (staging / "README.md").write_text(model_card(plan, out.name), encoding="utf-8")
    return UpscaleReport(
        source=src,
        out=out,
        model_type=plan.model_type,
        base_layers=plan.base_layers,
        removed=remove,
        layer_map=plan.layer_map,
        tensors=total,
        total_bytes=total_bytes,
        largest_tensor_bytes=max((info.nbytes for _, info in plan.tensors), default=0),
        shards=names,
        tied_embeddings=plan.tied_embeddings,
        dropped_tensors=plan.dropped,
        config_fields=plan.config_fields,
        copied_files=copied,
        base_config_sha256=plan.config_sha256,
        base_index_sha256=plan.checkpoint.listing_sha256,
        seconds=time.perf_counter() - started,
    )


def _layer_prefix(checkpoint: Checkpoint, n: int) -> str:
    indices: dict[str, set[int]] = {}
    for name in checkpoint.tensors:
        match = _INDEXED.match(name)
        if match:
            indices.setdefault(match["prefix"], set()).add(int(match["index"]))
    wanted = set(range(n))
    found = [prefix for prefix, seen in indices.items() if seen == wanted]
    if len(found) > 1:
        found = [prefix for prefix in found if prefix.endswith("layers.")]
    if len(found) == 1:
        return found[0]
    seen = ", ".join(f"{p}{{0…{max(i)}}}" for p, i in sorted(indices.items())) or "none"
    raise InputError(
        f"no decoder stack of {n} layers named '<prefix>{{i}}.' (tensor families found: {seen})",
        file=str(checkpoint.listing),
        field="num_hidden_layers",
        hint="depth up-scaling needs a decoder-only checkpoint whose layers are model.layers.{i}.",
    )


def _output_tensors(
    checkpoint: Checkpoint, prefix: str, layer_map: tuple[int, ...], dropped: tuple[str, ...]
) -> tuple[tuple[str, TensorInfo], ...]:
    """(output name, base tensor) in write order: embeddings, layers, then the rest."""
    by_layer: dict[int, list[str]] = {}
    outside: list[str] = []
    for name in sorted(checkpoint.tensors):
        match = _INDEXED.match(name)
        if match and match["prefix"] == prefix:
            by_layer.setdefault(int(match["index"]), []).append(match["rest"])
        elif name not in dropped:
            outside.append(name)
    first = [name for name in outside if "embed" in name]
    last = [name for name in outside if "embed" not in name]
    tensors = [(name, checkpoint.tensors[name]) for name in first]
    for j, i in enumerate(layer_map):
        for rest in by_layer[i]:
            tensors.append((f"{prefix}{j}.{rest}", checkpoint.tensors[f"{prefix}{i}.{rest}"]))
    tensors.extend((name, checkpoint.tensors[name]) for name in last)
    return tuple(tensors)
