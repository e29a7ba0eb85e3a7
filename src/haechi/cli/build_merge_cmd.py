"""``haechi build merge``: merge same-shape checkpoints as a mergekit-style YAML says."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from haechi.cli.build_memory_cmd import gib, memory_size
from haechi.cli.console import console
from haechi.progress import tensor_progress


def merge_command(
    config: Annotated[
        Path, typer.Argument(help="Merge YAML: models, merge_method, base_model, parameters.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the merged model to.")],
    shard_size: Annotated[
        str, typer.Option("--shard-size", help="Largest output shard, e.g. 2GB or 500MiB.")
    ] = "2GB",
    memory_limit: Annotated[
        str | None,
        typer.Option("--memory-limit", help="Memory the merge may use (default: available RAM)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Merge even if the estimate does not fit.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a non-empty output folder.")
    ] = False,
) -> None:
    """Merge checkpoints tensor by tensor: linear, slerp, task_arithmetic, ties, dare_ties, dare_linear."""
    from haechi.build.merge import check_memory, merge_checkpoints, plan_merge
    from haechi.build.merge_config import load_merge_config

    merge = load_merge_config(config)
    limit = memory_size(memory_limit, "memory-limit")
    plan = plan_merge(merge)
    expected, allowed, source = check_memory(plan, limit) if not force else (0, 0, "")
    if not force:
        console.print(
            f"memory: about {gib(expected)} at the peak ({gib(plan.working_bytes)} for the "
            f"largest tensor, {gib(plan.largest_tensor_bytes)} as written); fits in "
            f"{gib(allowed)} ({source})"
        )
    with tensor_progress(merge.method, show=console.is_terminal, console=console) as advance:
        report = merge_checkpoints(
            merge, out, shard_size=shard_size, overwrite=overwrite, memory_limit=limit,
            force=True, on_tensor=advance,
        )  # fmt: skip
    table = Table("", "", show_header=False)
    table.add_row("method", report.method)
    table.add_row("models", ", ".join(str(p) for p in merge.models))
    table.add_row("base", str(merge.base) if merge.base else "none")
    table.add_row("tensors", f"{report.tensors} ({gib(report.total_bytes)})")
    table.add_row("shards", str(len(report.shards)))
    if report.peak_growth is not None:
        table.add_row(
            "peak memory growth",
            f"{gib(report.peak_growth)} (estimate {gib(report.working_bytes)}; largest tensor "
            f"{gib(report.largest_tensor_bytes)})",
        )
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)
    console.print(f"wrote {report.out} (model card README.md, merge.yaml, mergekit.yaml)")
