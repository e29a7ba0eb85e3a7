"""Reading echoed ``/completions`` answers: which tokens are the continuation, and its score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from haechi.errors import BackendError
from haechi.models.base import LoglikelihoodResult


@dataclass(frozen=True)
class Echo:
    """The prompt part of an echoed ``/completions`` answer; generated tokens are dropped.

    ``offsets`` are character (code point) positions in the text the server detokenized,
    and ``end`` is where the prompt ends in that text.
    """

    tokens: list[str]
    offsets: list[int]
    logprobs: list[float | None]
    tops: list[dict[str, float] | None]
    end: int
    prompt_tokens: int | None


def parse_echo(body: dict[str, Any]) -> Echo:
    try:
        choice = body["choices"][0]
        data = choice["logprobs"]
        tokens = [str(t) for t in data["tokens"]]
        offsets = [int(o) for o in data["text_offset"]]
        logprobs = [None if lp is None else float(lp) for lp in data["token_logprobs"]]
        tops = data.get("top_logprobs") or [None] * len(tokens)
    except (KeyError, IndexError, TypeError) as exc:
        raise BackendError(
            "the server's /completions answer has no echoed logprobs (tokens, text_offset, "
            "token_logprobs); it must support echo=true with logprobs "
            "(llama-cpp-python: start it with --logits_all true)"
        ) from exc
    raw_usage = body.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    generated = usage.get("completion_tokens")
    if not isinstance(generated, int):
        generated = 1 if choice.get("finish_reason") == "length" else 0
    n_prompt = len(tokens) - min(generated, len(tokens))
    if n_prompt == 0 or not len(offsets) == len(logprobs) == len(tokens):
        raise BackendError("the server echoed no prompt tokens, or lists of unequal length")
    # Where the prompt ends in the server's text: the first generated token starts there.
    # If the model stopped at once (EOS), the last prompt token ends there; a token that
    # completes a multi-byte character can decode to "" alone, yet it ends one character on.
    generated_at = offsets[n_prompt] if n_prompt < len(tokens) else None
    end = generated_at if generated_at is not None else offsets[-1] + max(1, len(tokens[-1]))
    prompt_tokens = usage.get("prompt_tokens")
    return Echo(
        tokens[:n_prompt],
        offsets[:n_prompt],
        logprobs[:n_prompt],
        [dict(t) if isinstance(t, dict) else None for t in tops[:n_prompt]],
        end,
        prompt_tokens if isinstance(prompt_tokens, int) else None,
    )


def continuation_start(echo: Echo, prompt: str, continuation: str, *, empty_context: bool) -> int:
    """Index of the first echoed token that covers any continuation character.

    ``text_offset`` is read as characters (code points) of the server's detokenized text, not
    UTF-8 bytes: checked against llama-cpp-python 0.3.36 with Korean text (the three byte
    tokens of a character share its offset). That text may start with more than the prompt
    (a SentencePiece dummy-prefix space, an echoed ``<s>``), so the boundary is measured
    back from the end. A token straddling the boundary counts as continuation. Servers whose
    offsets count raw token strings (``<0xEC>``) do not line up: use the tokenizer argument.
    """
    shift = echo.end - len(prompt)
    if not 0 <= shift <= len(echo.tokens[0]):
        raise BackendError(
            f"the server's text_offset does not line up with the prompt ({echo.end} vs "
            f"{len(prompt)} characters); pass tokenizer=<the served model's Hugging Face "
            "tokenizer> so haechi counts continuation tokens itself"
        )
    if empty_context:
        # Every echoed token is continuation, a dummy-prefix token too (lm-eval counts it
        # there as well), except a BOS the server echoed: no logprob, no prompt text.
        echoed_bos = (
            echo.prompt_tokens == len(echo.tokens) > 1
            and echo.logprobs[0] is None
            and echo.offsets[1] <= shift
        )
        return 1 if echoed_bos else 0
    boundary = echo.end - len(continuation)
    stops = [*echo.offsets[1:], echo.end]
    for index, (start, stop) in enumerate(zip(echo.offsets, stops, strict=True)):
        if start >= boundary or stop > boundary:
            return index
    return len(echo.tokens)


def sum_continuation(echo: Echo, start: int, *, empty_context: bool) -> LoglikelihoodResult:
    total = 0.0
    greedy = True
    for index in range(start, len(echo.tokens)):
        logprob = echo.logprobs[index]
        if logprob is None:
            why = (
                ". llama-cpp-python's server never scores the first token after BOS (it "
                "reports null for the first echoed token): give a non-empty context, or use "
                "a server that echoes BOS (such as vLLM)"
                if index == 0
                else ""
            )
            raise BackendError(
                f"the server returned no log-probability for echoed token {index}, which "
                f"belongs to the continuation{' (the context is empty)' if empty_context else ''}"
                f"{why}"
            )
        total += logprob
        # Compare values, not strings: alternatives are keyed by decoded text, and different
        # tokens can decode alike ("" for partial UTF-8 bytes on llama.cpp). When they collide
        # in the dict, the top value is lost and a wrong guess is possible either way.
        top = echo.tops[index]
        if not top or logprob < max(top.values()):
            greedy = False
    return LoglikelihoodResult(total, greedy, len(echo.tokens) - start)
