"""Where haechi keeps its files by default (overridable by environment variables)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Per-user data folder: ``$HAECHI_HOME``, else ``$XDG_DATA_HOME/haechi``, else
    ``~/.local/share/haechi``."""
    if home := os.environ.get("HAECHI_HOME"):
        return Path(home)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "haechi"


def cache_dir() -> Path:
    """Per-user cache folder: ``$HAECHI_CACHE``, else ``$XDG_CACHE_HOME/haechi``, else
    ``~/.cache/haechi``."""
    if cache := os.environ.get("HAECHI_CACHE"):
        return Path(cache)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "haechi"
