"""Safetensors checkpoints read and written one tensor at a time.

Reading: the tensor table of a checkpoint folder (``model.safetensors`` or a sharded set
named by ``model.safetensors.index.json``) comes from the files' headers alone; tensor data
is read through ``safetensors.safe_open`` when it is needed. Writing: a shard's header is
computed from the planned tensors' dtypes and shapes and written first, then each tensor's
bytes are appended as they are read, so no more than one tensor is in memory at a time.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from haechi.errors import HaechiError, InputError

# Files copied unchanged from the base: tokenizer and generation settings.
COPIED_FILES = (
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "*.tiktoken",
    "chat_template*",
    "generation_config.json",
)
TensorSource = Callable[[str, "TensorInfo"], AbstractContextManager[memoryview]]

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
# A header larger than this is not a safetensors header (the format's own limit is 100 MB).
_MAX_HEADER_BYTES = 100_000_000
_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*$", re.IGNORECASE)


# safetensors' floating dtype codes: torch's name and bytes per element
FLOAT_DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "BF16": ("bfloat16", 2),
    "F16": ("float16", 2),
}
# the dtypes a written checkpoint may have (mergekit's ``dtype`` names) → safetensors codes
OUTPUT_DTYPES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a checkpoint, as its file's header describes it (no data read)."""

    name: str
    file: Path
    dtype: str  # the safetensors dtype code: "F32", "BF16", "F16", ...
    shape: tuple[int, ...]
    nbytes: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Checkpoint:
    """The tensors of a safetensors checkpoint folder and the file that lists them.

    ``listing`` is the index file for a sharded checkpoint and the single weights file
    otherwise; ``listing_sha256`` hashes the index file, or the single file's header.
    """

    directory: Path
    tensors: dict[str, TensorInfo]
    listing: Path
    listing_sha256: str


def parse_size(value: int | str) -> int:
    """Bytes in ``value``: an int, or text such as "2GB" (10^9 bytes) or "500MiB" (2^20)."""
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if match is None:
            raise InputError(
                f"cannot read size {value!r}", field="shard_size", hint="e.g. 2GB, 500MB, 1GiB"
            )
        size = int(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()])
    if size <= 0:
        raise InputError(f"size must be positive, got {value!r}", field="shard_size")
    return size


def read_checkpoint(directory: Path) -> Checkpoint:
    """The tensor table of ``directory``'s safetensors weights (sharded or single file)."""
    index = directory / INDEX_FILE
    if index.is_file():
        raw = index.read_bytes()
        weight_map = _weight_map(index, raw)
        tensors: dict[str, TensorInfo] = {}
        for file_name in sorted(set(weight_map.values())):
            shard = directory / file_name
            if not shard.is_file():
                raise InputError(
                    "the index names a shard that is not in the folder",
                    file=str(index),
                    field=f"weight_map.{file_name}",
                )
            for info in read_header(shard)[0]:
                if weight_map.get(info.name) == file_name:
                    tensors[info.name] = info
        missing = sorted(set(weight_map) - set(tensors))
        if missing:
            raise InputError(
                f"{len(missing)} tensors listed in the index are not in their shards "
                f"(first: {missing[0]})",
                file=str(index),
                field="weight_map",
            )
        return Checkpoint(directory, tensors, index, hashlib.sha256(raw).hexdigest())
    single = directory / SINGLE_FILE
    if single.is_file():
        infos, header = read_header(single)
        tensors = {info.name: info for info in infos}
        return Checkpoint(directory, tensors, single, hashlib.sha256(header).hexdigest())
    others = sorted(p.name for p in directory.glob("*.safetensors"))
    hint = (
        f"found {', '.join(others)} but neither {SINGLE_FILE} nor {INDEX_FILE}"
        if others
        else "save the model with save_pretrained(..., safe_serialization=True)"
    )
    raise InputError("no safetensors weights in the model folder", file=str(directory), hint=hint)


def read_header(path: Path) -> tuple[list[TensorInfo], bytes]:
    """The tensors a safetensors file holds, and its raw header (length prefix included)."""
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise InputError("not a safetensors file (too short)", file=str(path))
        (length,) = struct.unpack("<Q", prefix)
        if length > _MAX_HEADER_BYTES:
            raise InputError("not a safetensors file (header too large)", file=str(path))
        header = f.read(length)
    try:
        table = json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a safetensors file: {exc}", file=str(path)) from exc
    if not isinstance(table, dict):
        raise InputError("not a safetensors file (header is not a table)", file=str(path))
    infos = []
    for name, entry in table.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = entry["data_offsets"]
            info = TensorInfo(name, path, str(entry["dtype"]), tuple(entry["shape"]), end - begin)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed header entry: {exc}", file=str(path), field=name) from exc
        infos.append(info)
    return infos, prefix + header


def _weight_map(index: Path, raw: bytes) -> dict[str, str]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", file=str(index)) from exc
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise InputError("expected a table of tensor → file", file=str(index), field="weight_map")
    return weight_map


def assign_shards(sizes: Sequence[int], limit: int) -> list[list[int]]:
    """Group item positions, in order, into shards of at most ``limit`` bytes each.

    An item larger than the limit gets a shard of its own (as transformers does).
    """
    shards: list[list[int]] = []
    used = 0
    for position, size in enumerate(sizes):
        if not shards or (shards[-1] and used + size > limit):
            shards.append([])
            used = 0
        shards[-1].append(position)
        used += size
    return shards


def shard_name(number: int, count: int) -> str:
    """``model-00001-of-00003.safetensors`` (numbers from 1, as transformers names them)."""
    return f"model-{number:05d}-of-{count:05d}.safetensors"


@contextmanager
def tensor_bytes(info: TensorInfo) -> Iterator[memoryview]:
    """The tensor's data exactly as stored (little-endian, row-major), read via ``safe_open``.

    The file is opened for this one tensor and closed after the block: safetensors maps the
    file into memory and pages read through a mapping stay resident until it is closed, so
    a handle kept open for a whole shard would hold the shard, not one tensor.
    """
    import torch
    from safetensors import safe_open

    with safe_open(str(info.file), framework="pt") as handle:
        data = handle.get_tensor(info.name).reshape(-1).view(torch.uint8).numpy()
        if data.nbytes != info.nbytes:
            raise HaechiError(
                f"{info.file}: tensor {info.name} has {data.nbytes} bytes, its header says {info.nbytes}"
            )
        yield memoryview(data).cast("B")


def write_shard(
    path: Path,
    entries: Sequence[tuple[str, TensorInfo]],
    on_tensor: Callable[[str, int], None] | None = None,
    read: TensorSource | None = None,
) -> None:
    """Write ``entries`` (output name, tensor) to one safetensors file at ``path``.

    Tensors are laid out largest element size first, as the reference writer does, so every
    tensor starts at an offset aligned to its element size. Each tensor's bytes come from
    ``read(name, info)`` (default: ``info``'s stored bytes, ``tensor_bytes``), one at a
    time; ``info`` gives the dtype and shape written in the header.
    """
    ordered = sorted(entries, key=lambda e: -_itemsize(e[1]))  # stable: keeps plan order
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, info in ordered:
        header[name] = {
            "dtype": info.dtype,
            "shape": list(info.shape),
            "data_offsets": [offset, offset + info.nbytes],
        }
        offset += info.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # data starts 8-byte aligned
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, info in ordered:
            with read(name, info) if read is not None else tensor_bytes(info) as data:
                if len(data) != info.nbytes:
                    raise HaechiError(f"{path}: {name} has {len(data)} bytes, not {info.nbytes}")
                f.write(data)
            if on_tensor is not None:
                on_tensor(name, info.nbytes)


def write_index(path: Path, weight_map: dict[str, str], total_size: int, parameters: int) -> None:
    """Write ``model.safetensors.index.json`` (transformers' layout: metadata + weight_map)."""
    data = {
        "metadata": {"total_size": total_size, "total_parameters": parameters},
        "weight_map": dict(sorted(weight_map.items())),
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def write_checkpoint(
    folder: Path,
    tensors: Sequence[tuple[str, TensorInfo]],
    shard_limit: int,
    on_tensor: Callable[[str, int], None] | None = None,
    read: TensorSource | None = None,
) -> tuple[str, ...]:
    """Write ``tensors`` (output name, tensor) in order as shards of at most ``shard_limit``
    bytes with their index into ``folder``; returns the shard file names."""
    groups = assign_shards([info.nbytes for _, info in tensors], shard_limit)
    names = tuple(shard_name(k + 1, len(groups)) for k in range(len(groups)))
    weight_map: dict[str, str] = {}
    for file_name, positions in zip(names, groups, strict=True):
        entries = [tensors[p] for p in positions]
        write_shard(folder / file_name, entries, on_tensor, read)
        weight_map.update((name, file_name) for name, _ in entries)
    total = sum(info.nbytes for _, info in tensors)
    write_index(folder / INDEX_FILE, weight_map, total, sum(info.numel for _, info in tensors))
    return names


@contextmanager
def staged_folder(out: Path, what: str) -> Iterator[Path]:
    """A fresh ``<out>.partial`` folder to write into, renamed to ``out`` when the block
    ends, removed when it fails: an interrupted run never leaves a complete-looking ``out``
    (a stale ``.partial`` from a killed run is started afresh)."""
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        yield staging
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise HaechiError(f"could not write {what} to {staging}: {exc}") from exc
        raise
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)


def check_out_folder(
    sources: Sequence[Path], out: Path, overwrite: bool, what: str = "input model"
) -> None:
    """``out`` may be written: it is not (inside) a source and is empty, or ``overwrite``."""
    target = out.resolve()
    for src in sources:
        source = src.resolve()
        if target == source or target in source.parents:
            raise InputError(
                f"the output folder would replace the {what} {src}", file=str(out), field="out"
            )
    if out.exists():
        if not out.is_dir():
            raise InputError("the output path is a file", file=str(out), field="out")
        if any(out.iterdir()) and not overwrite:
            raise InputError(
                "the output folder exists and is not empty",
                file=str(out),
                field="out",
                hint="choose a new folder or pass --overwrite",
            )


def copy_side_files(src: Path, dst: Path) -> tuple[str, ...]:
    """Copy ``src``'s tokenizer and generation files (``COPIED_FILES``) into ``dst``."""
    copied = []
    for path in sorted(src.iterdir()):
        if path.is_file() and any(fnmatch(path.name, pattern) for pattern in COPIED_FILES):
            shutil.copy2(path, dst / path.name)
            copied.append(path.name)
    return tuple(copied)


def _itemsize(info: TensorInfo) -> int:
    return info.nbytes // info.numel if info.numel else 1
