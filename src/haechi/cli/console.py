"""Shared rich consoles and logging set-up for the command line."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

console = Console()
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
