"""Logging at the command line: every warning printed once, through rich."""

from __future__ import annotations

import subprocess
import sys

# A fresh interpreter: the libraries' handlers hold the stderr of the moment they are imported.
PROGRAM = """
import logging
import datasets, huggingface_hub  # each attaches its own stderr handler on import
from haechi.cli.console import setup_logging
setup_logging(verbose=False)
logging.getLogger("datasets.load").warning("datasets says so")
logging.getLogger("huggingface_hub.file_download").warning("the hub says so")
logging.getLogger("haechi.evaluate.plan").warning("haechi says so")
"""


def test_library_warnings_are_printed_once() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("datasets says so") == 1
    assert run.stderr.count("the hub says so") == 1
    assert run.stderr.count("haechi says so") == 1 and "WARNING" in run.stderr  # through rich
