"""Logging at the command line: every warning printed once, through rich."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from haechi.cli.console import setup_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.usefixtures("restored_logging")
def test_library_warnings_are_printed_once(capfd: pytest.CaptureFixture[str]) -> None:
    import datasets  # noqa: F401  (each attaches its own stderr handler on import)
    import huggingface_hub  # noqa: F401

    setup_logging(verbose=False)
    logging.getLogger("datasets.load").warning("datasets says so")
    logging.getLogger("huggingface_hub.file_download").warning("the hub says so")
    logging.getLogger("haechi.evaluate.plan").warning("haechi says so")
    err = capfd.readouterr().err
    assert err.count("datasets says so") == 1
    assert err.count("the hub says so") == 1
    assert err.count("haechi says so") == 1 and "WARNING" in err  # ours, through rich
