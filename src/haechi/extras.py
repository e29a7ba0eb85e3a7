"""Which optional extra of haechi provides a module, read from the installed package's
own metadata (``pyproject.toml``'s optional dependencies), so the table cannot drift."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import metadata

# Distributions whose import name is not their distribution name.
_IMPORT_NAMES = {"argon2_cffi": "argon2", "python_multipart": "multipart", "protobuf": "google"}
# Umbrella extras: a module they provide is reported under the narrower extra listing it.
_UMBRELLAS = ("dev", "all")


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@lru_cache(maxsize=1)
def _extras_by_module() -> dict[str, str]:
    try:
        requirements = metadata.requires("haechi") or []
    except metadata.PackageNotFoundError:
        return {}
    found: dict[str, str] = {}
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        if name is None or extra is None or _normalised(name.group()) == "haechi":
            continue
        module = _normalised(name.group())
        module = _IMPORT_NAMES.get(module, module)
        if module not in found or found[module] in _UMBRELLAS:
            found[module] = extra.group(1)
    return found


def extra_providing(module: str | None) -> str | None:
    """The extra to install for ``module`` (e.g. ``peft.tuners`` → ``train``), or None when
    no optional dependency of haechi provides it."""
    if not module:
        return None
    return _extras_by_module().get(_normalised(module.split(".")[0]))
