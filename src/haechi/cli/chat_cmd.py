"""``haechi chat``: talk to a model in the terminal, answers streamed as they are written."""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated

import typer

from haechi.cli.console import console
from haechi.cli.options import BaseUrl, ModelArgs, model_arguments

TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="chatml, llama3 or gemma: a bundled chat format for tokenizers or servers "
        "without one (default: the model's own template).",
    ),
]


def chat_command(
    model: Annotated[
        str, typer.Option("--model", "-m", help="e.g. hf/./my-checkpoint or openai/gpt-4o-mini.")
    ],
    system: Annotated[str | None, typer.Option("--system", help="System prompt.")] = None,
    template: TemplateOption = None,
    temperature: Annotated[float, typer.Option(help="0 is greedy.")] = 0.7,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass.")] = 0.95,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", help="Most tokens generated per answer.")
    ] = 512,
    seed: Annotated[int | None, typer.Option(help="Seed every answer (reproducible).")] = None,
    model_args: ModelArgs = None,
    base_url: BaseUrl = None,
) -> None:
    """Chat with a model: /help lists the commands, Ctrl-C stops an answer, Ctrl-D quits."""
    from haechi.chat import ChatSession, ChatSettings, require_chat_format, resolve_template
    from haechi.chat.repl import run_repl
    from haechi.models import load
    from haechi.validation import validated

    chosen = resolve_template(template)
    settings = validated(
        ChatSettings, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed
    )
    with console.status(f"loading {model}"):
        loaded = load(model, **model_arguments(model_args, base_url))
    require_chat_format(loaded, chosen)
    with contextlib.suppress(ImportError):  # line editing and history for input()
        import readline  # noqa: F401
    console.print(
        f"chatting with [bold]{loaded.name}[/] ({loaded.fingerprint}); "
        "/help for commands, Ctrl-D to quit",
        highlight=False,
    )
    session = ChatSession(loaded, system=system, template=chosen, settings=settings)
    run_repl(session, input, _write)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
