"""Context/continuation tokenization identical to lm-evaluation-harness 0.4.13's HF backend.

Scores are only comparable with the harness when both cut the token sequence at the same
place, so this follows its rules exactly:
- trailing whitespace of the context moves to the continuation;
- the whole string and the context are encoded separately and the continuation is the
  difference (``whole[len(context):]``), so merges across the boundary count as continuation;
- special tokens are the tokenizer's default (``add_special_tokens`` left unset) unless
  ``add_bos_token`` is given, and are not added to a string already starting with BOS text;
  the backend must also load its tokenizer with that ``add_bos_token`` (as the harness
  does), or ``add_special_tokens=True`` adds nothing to a tokenizer saved without BOS;
- an empty context conditions on the prefix token (BOS, else EOS), unless the continuation
  already starts with it.
"""

from __future__ import annotations

from typing import Any

from haechi.models.text import move_trailing_whitespace


def prefix_token_id(tokenizer: Any) -> int:
    """The token an empty context is replaced by: BOS when the tokenizer has one, else EOS."""
    if tokenizer.bos_token_id is not None:
        return int(tokenizer.bos_token_id)
    return int(tokenizer.eos_token_id)


def encode(tokenizer: Any, text: str, *, add_bos_token: bool | None = None) -> list[int]:
    """Encode ``text`` as the harness's ``tok_encode`` does with ``add_special_tokens`` unset."""
    kwargs: dict[str, bool] = {}
    if add_bos_token is not None:
        kwargs["add_special_tokens"] = add_bos_token
    if text.startswith(tokenizer.decode(prefix_token_id(tokenizer))):
        kwargs["add_special_tokens"] = False
    return list(tokenizer.encode(text, **kwargs))


def encode_pair(
    tokenizer: Any, context: str, continuation: str, *, add_bos_token: bool | None = None
) -> tuple[list[int], list[int]]:
    """Return ``(context_tokens, continuation_tokens)`` for a loglikelihood request."""
    if context == "":
        cont = list(tokenizer.encode(continuation, add_special_tokens=False))
        prefix = prefix_token_id(tokenizer)
        if cont and cont[0] == prefix:
            return cont[:1], cont[1:]
        return [prefix], cont
    context, continuation = move_trailing_whitespace(context, continuation)
    whole = encode(tokenizer, context + continuation, add_bos_token=add_bos_token)
    ctx = encode(tokenizer, context, add_bos_token=add_bos_token)
    return ctx, whole[len(ctx) :]
