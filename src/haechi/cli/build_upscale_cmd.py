"""``haechi build upscale``: SOLAR depth up-scaling of a local checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.progress import tensor_progress


def upscale_command(
    model: Annotated[
        Path, typer.Option("--model", help="Base checkpoint folder (safetensors, config.json).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the up-scaled model to.")],
    remove: Annotated[
        int,
        typer.Option("--remove", help="M: layers dropped from each copy; the result has 2(n−M)."),
    ] = 8,
    shard_size: Annotated[
        str, typer.Option("--shard-size", help="Largest output shard, e.g. 2GB or 500MiB.")
    ] = "2GB",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a non-empty output folder.")
    ] = False,
) -> None:
    """Stack two copies of the base minus M layers each (SOLAR's depth up-scaling)."""
    from haechi.build.upscale import depth_upscale

    with tensor_progress("up-scaling", show=console.is_terminal, console=console) as advance:
        report = depth_upscale(
            model, out, remove, shard_size=shard_size, overwrite=overwrite, on_tensor=advance
        )
    n, m, layers = report.base_layers, report.removed, report.layers
    table = Table("", "", show_header=False)
    table.add_row("base", f"{report.source} ({report.model_type}, {n} layers)")
    table.add_row("layers", f"2({n}−{m}) = {layers}: base 0–{n - m - 1}, then {m}–{n - 1}")
    table.add_row("tensors", f"{report.tensors} ({_size(report.total_bytes)})")
    table.add_row("shards", str(len(report.shards)))
    table.add_row("tied embeddings", "yes" if report.tied_embeddings else "no")
    table.add_row("config fields", ", ".join(report.config_fields))
    table.add_row("copied", ", ".join(report.copied_files) or "none")
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)
    console.print(f"wrote {report.out} (model card README.md, mergekit.yaml)")


def _size(nbytes: int) -> str:
    """Decimal units, as the --shard-size option reads them."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{nbytes} B"
