"""Shared rich consoles and logging set-up for the command line."""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from rich.console import Console
from rich.logging import RichHandler

# Piped or captured output has no width of its own; rich would assume 80 columns and cut
# table cells (model and task names) to fit. Long lines are fine in a file or a pipe.
# (stderr keeps rich's default: its log lines are padded to the full width.)
UNWRAPPED_WIDTH = 1000


def _width(stream: TextIO) -> int | None:
    """None (rich's own choice) for a terminal or when $COLUMNS says, else no wrapping."""
    return None if stream.isatty() or os.environ.get("COLUMNS") else UNWRAPPED_WIDTH


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True)


def setup_logging(verbose: bool) -> None:
    """Warnings (or everything with ``--verbose``) go to stderr through rich."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )
    # Transformers and httpx chat at INFO; keep them quiet unless asked.
    for noisy in ("httpx", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
