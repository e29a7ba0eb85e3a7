"""Text helpers shared by the backends."""

from __future__ import annotations


def move_trailing_whitespace(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the continuation, as lm-evaluation-harness
    does, so a word and the space before it are scored together."""
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation
