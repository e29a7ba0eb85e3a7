"""``haechi build tokens``: compare how efficiently tokenizers encode Korean text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from haechi.build.tokens import TokenizerStats, compare, dataset_texts, read_texts
from haechi.build.tokens_chart import chart_format, write_chart
from haechi.cli.console import console, err_console
from haechi.errors import InputError

# (key in TokenizerStats.as_dict(), row label, format)
_ROWS = (
    ("byte_scheme", "byte scheme", "{}"),
    ("vocab_size", "vocabulary (incl. added)", "{:,}"),
    ("tokens", "tokens", "{:,}"),
    ("chars_per_token", "characters / token", "{:.3f}"),
    ("bytes_per_token", "UTF-8 bytes / token", "{:.3f}"),
    ("eojeol_per_token", "eojeol / token", "{:.3f}"),
    ("tokens_per_eojeol", "tokens / eojeol", "{:.3f}"),
    ("byte_fallback_rate", "byte-token rate", "{:.2%}"),
    ("unknown_rate", "unknown-token rate", "{:.2%}"),
    ("hangul_tokens", "Hangul tokens", "{:,}"),
    ("hangul_chars_per_token", "Hangul syllables / token", "{:.3f}"),
    ("hangul_bytes_per_token", "Hangul bytes / token", "{:.3f}"),
    ("hangul_tokens_per_eojeol", "tokens / Hangul eojeol", "{:.3f}"),
    ("hangul_byte_fallback_rate", "Hangul byte-token rate", "{:.2%}"),
    ("hangul_unknown_rate", "Hangul unknown-token rate", "{:.2%}"),
)


def tokens_command(
    tokenizers: Annotated[
        list[str],
        typer.Argument(
            metavar="TOKENIZER",
            help="Tokenizers to compare: Hugging Face hub ids or local folders.",
        ),
    ],
    text: Annotated[
        Path | None,
        typer.Option(
            "--text",
            help="A text file (one document a line), or .jsonl/.json/.csv/.tsv/.parquet "
            "whose --field holds the text.",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="A Hugging Face dataset: ID, ID:SPLIT or ID:CONFIG:SPLIT (split 'train' by "
            "default; needs the network and the 'datasets' package).",
        ),
    ] = None,
    field: Annotated[
        str, typer.Option("--field", help="The field holding the text in jsonl/csv/datasets.")
    ] = "text",
    chart: Annotated[
        Path | None,
        typer.Option(
            "--chart", help="Also draw a grouped bar chart: out.svg, or out.png (needs matplotlib)."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Use only the first N documents.")
    ] = None,
) -> None:
    """Characters, UTF-8 bytes and eojeol per token, byte-fallback and unknown rates, over all
    text and over Hangul syllables only, side by side for each tokenizer."""
    if (text is None) == (dataset is None):
        raise InputError(
            "give the documents with exactly one of --text FILE or --dataset ID",
            field="text" if text is None else "dataset",
        )
    if chart is not None:
        chart_format(chart)  # refuse a bad name before the long part
    if text is not None:
        texts, source = read_texts(text, field=field, limit=limit), str(text)
    else:
        assert dataset is not None
        texts, source = dataset_texts(dataset, field=field, limit=limit), dataset
    if not texts:
        raise InputError("no documents with text", file=source, hint="is --field right?")
    stats = compare(tokenizers, texts, progress=True)
    if json_out:
        report = {"source": source, "tokenizers": [s.as_dict() for s in stats]}
        console.print_json(json.dumps(report, ensure_ascii=False))
    else:
        console.print(_table(stats, source))
    if chart is not None:
        write_chart(stats, chart)
        # stderr under --json, so stdout stays one JSON document
        (err_console if json_out else console).print(f"chart written to {chart}")


def _table(stats: list[TokenizerStats], source: str) -> Table:
    first = stats[0]
    table = Table(
        "",
        *(Column(s.tokenizer, justify="right") for s in stats),
        title="Tokenizer efficiency",
        caption=(
            f"{source}: {first.documents:,} documents, {first.characters:,} characters, "
            f"{first.utf8_bytes:,} UTF-8 bytes, {first.eojeol:,} eojeol, "
            f"{first.hangul_syllables:,} Hangul syllables"
        ),
    )
    rows = [s.as_dict() for s in stats]
    for key, label, form in _ROWS:
        table.add_row(label, *("—" if r[key] is None else form.format(r[key]) for r in rows))
    return table
