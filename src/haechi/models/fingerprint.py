"""Stable fingerprints for models: what changes outputs changes the fingerprint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def digest(parts: dict[str, Any]) -> str:
    """A short sha256 over canonical JSON of ``parts`` (keys sorted)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def weights_hash(directory: Path) -> str:
    """sha256 over every weight and config file of a local checkpoint, in name order.

    Reading the whole checkpoint is the honest way to tell two local checkpoints apart;
    results are cached per (path, size, mtime) so a checkpoint is hashed once.
    """
    files = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name == "config.json")
    )
    total = hashlib.sha256()
    for path in files:
        total.update(path.name.encode("utf-8"))
        total.update(_file_hash(path).encode("ascii"))
    return total.hexdigest()[:16]


def _file_hash(path: Path) -> str:
    from haechi.paths import cache_dir

    stat = path.stat()
    key = digest({"path": str(path.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns})
    memo = cache_dir() / "file-hashes" / key
    if memo.exists():
        return memo.read_text().strip()
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    value = h.hexdigest()
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(value)
    return value
