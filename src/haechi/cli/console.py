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


class _NotPrintedYet(logging.Filter):
    """Drops records a library's own handler has already printed: ``datasets`` and
    ``huggingface_hub`` attach a stderr handler to their loggers and still propagate, so
    the root handler would print each of their warnings a second time."""

    def filter(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger.parent is not None:  # up to, not including, root
            if logger.handlers:
                return False
            logger = logger.parent
        return True


def setup_logging(verbose: bool) -> None:
    """Warnings (or everything with ``--verbose``) go to stderr through rich, once each."""
    handler = RichHandler(console=err_console, show_path=False, show_time=False)
    handler.addFilter(_NotPrintedYet())
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[handler],
        force=True,
    )
    # Transformers and httpx chat at INFO; keep them quiet unless asked.
    for noisy in ("httpx", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
