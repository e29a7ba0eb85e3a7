"""Options shared by several commands, declared once so their names and help agree."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from haechi.models import parse_model_args

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Results store: a SQLAlchemy URL or a SQLite file path (default: $HAECHI_DB, else haechi's data folder).",
    ),
]

ModelArgs = Annotated[
    str | None,
    typer.Option(
        "--model-args", help="Backend options as key=value,... e.g. dtype=bfloat16,batch_size=16."
    ),
]

BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="openai backend: the server's URL, e.g. http://127.0.0.1:8000/v1 (default $OPENAI_BASE_URL).",
    ),
]


def model_arguments(model_args: str | None, base_url: str | None) -> dict[str, object]:
    """Backend options from --model-args, plus --base-url when given."""
    args: dict[str, object] = dict(parse_model_args(model_args))
    if base_url is not None:
        args["base_url"] = base_url
    return args


def batch_size_value(value: str | None) -> str | None:
    """Check ``--batch-size`` (a positive integer or ``auto``) where it is parsed, so a bad
    value is reported under the option's own name."""
    if value is None or value == "auto" or (value.isdigit() and int(value) > 0):
        return value
    raise typer.BadParameter(f"must be a positive integer or 'auto', got {value!r}")


# Options whose value may be left out, as lm-eval's `--apply_chat_template [TEMPLATE]`
# (argparse's nargs="?"): typer has no such option, so a bare one gets its default here.
OPTIONAL_VALUES = {"--apply-chat-template": "default"}  # EvalConfig's DEFAULT_TEMPLATE


def fill_optional_values(argv: list[str]) -> list[str]:
    """``argv`` with the default value after an ``OPTIONAL_VALUES`` option that is last or
    followed by another option."""
    filled: list[str] = []
    for index, arg in enumerate(argv):
        filled.append(arg)
        following = argv[index + 1] if index + 1 < len(argv) else None
        if arg in OPTIONAL_VALUES and (following is None or following.startswith("-")):
            filled.append(OPTIONAL_VALUES[arg])
    return filled


def data_parallel_value(value: str | None) -> str | None:
    """Check ``--data-parallel`` (a positive integer or ``auto``) where it is parsed."""
    if value is None or value == "auto" or (value.isdigit() and int(value) > 0):
        return value
    raise typer.BadParameter(f"must be a positive integer or 'auto', got {value!r}")


def replica_count(value: str | None) -> int | Literal["auto"] | None:
    """``--data-parallel``'s checked text as the library takes it."""
    return "auto" if value == "auto" else None if value is None else int(value)


DataParallel = Annotated[
    str | None,
    typer.Option(
        "--data-parallel",
        help="Run N model replicas side by side as Ray actors (N, or 'auto': one per GPU); "
        "requests are sharded by prefix tree. Needs the ray extra.",
        callback=data_parallel_value,
    ),
]

RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Place the replicas on this Ray cluster (e.g. 10.0.0.5:6379); default: a local Ray started for the run.",
    ),
]
