"""The command line the SQuARe benchmarks share: which annotation file, and the bootstrap."""

from __future__ import annotations

import argparse
from pathlib import Path


def square_arguments(doc: str | None, default_file: Path) -> argparse.Namespace:
    """``--file`` (a SQuARe annotation file), ``--bootstrap`` draws and ``--seed``; exits
    when the file is absent (the data is not on every machine)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, default=default_file)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"no SQuARe annotations at {args.file}: nothing to measure")
    return args
