"""Text generation for the ``hf`` backend: chat templates, stop tokens and strings, logprobs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from haechi.errors import InputError
from haechi.models.base import Generation, GenerationRequest, TokenLogprob
from haechi.models.hf_tokenize import encode

if TYPE_CHECKING:
    from haechi.models.hf import HFModel

# End-of-turn markers of common chat formats; generation stops on whichever the vocab has.
END_OF_TURN_TOKENS = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


def render_prompt(tokenizer: Any, request: GenerationRequest) -> str:
    """The prompt text: the request's prompt, or its messages through the chat template."""
    if request.prompt is not None:
        return request.prompt
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(
            "this model's tokenizer has no chat template, so chat messages cannot be rendered",
            field="messages",
            hint="send a plain prompt instead",
        )
    messages = [{"role": m.role, "content": m.content} for m in request.messages or ()]
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def stop_token_ids(model: HFModel) -> list[int]:
    """EOS from the tokenizer and generation config plus any end-of-turn token in the vocab."""
    ids: set[int] = set()
    config_eos = model.model.generation_config.eos_token_id
    if isinstance(config_eos, int):
        ids.add(config_eos)
    elif config_eos:
        ids.update(config_eos)
    if model.tokenizer.eos_token_id is not None:
        ids.add(model.tokenizer.eos_token_id)
    ids.update(end_of_turn_ids(model.tokenizer))
    return sorted(ids)


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """The ids of the ``END_OF_TURN_TOKENS`` this tokenizer's vocabulary has."""
    vocab = tokenizer.get_vocab()
    return sorted(vocab[t] for t in END_OF_TURN_TOKENS if t in vocab)


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string; says whether one was found."""
    cuts = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


@torch.inference_mode()
def generate(model: HFModel, requests: Sequence[GenerationRequest]) -> list[Generation]:
    """Greedy single-answer requests with the same settings run together (left-padded
    batches); sampled ones run alone, so a seed fixes that request's samples whatever
    else is asked."""
    eos_ids = stop_token_ids(model)
    outputs: list[Generation | None] = [None] * len(requests)
    batches: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    for index, request in enumerate(requests):
        if request.temperature == 0 and request.n == 1 and request.top_logprobs == 0:
            batches.setdefault((request.max_new_tokens, request.stop), []).append(index)
        else:
            outputs[index] = _run(model, [request], eos_ids)[0]
    size = model.args.batch_size if isinstance(model.args.batch_size, int) else 8
    for indices in batches.values():
        for start in range(0, len(indices), size):
            part = indices[start : start + size]
            for index, generation in zip(
                part, _run(model, [requests[i] for i in part], eos_ids), strict=True
            ):
                outputs[index] = generation
    return [g for g in outputs if g is not None]


def prompt_token_ids(tokenizer: Any, request: GenerationRequest) -> list[int]:
    """The prompt's tokens, as every in-process backend feeds them to its model."""
    prompt = render_prompt(tokenizer, request)
    # A chat template writes its own special tokens; a plain prompt gets the tokenizer's
    # (unless it already starts with BOS text), as loglikelihood contexts do.
    if request.messages is None:
        return encode(tokenizer, prompt)
    return list(tokenizer.encode(prompt, add_special_tokens=False))


def pad_token_id(model: HFModel, eos_ids: list[int]) -> int:
    """What left-pads prompts: the tokenizer's pad token, else the first stop token."""
    pad = model.tokenizer.pad_token_id
    return int(pad) if pad is not None else eos_ids[0]


def generation_kwargs(
    model: HFModel, request: GenerationRequest, eos_ids: list[int]
) -> dict[str, Any]:
    """``model.generate`` keyword arguments for ``request``'s decoding settings, shared by
    batched generation and streaming: greedy or sampled (``top_k=0``: only top-p cuts),
    stop tokens and strings, and the model's decode-time processors (guards)."""
    kwargs: dict[str, Any] = {
        "max_new_tokens": request.max_new_tokens,
        "do_sample": request.temperature > 0,
        "eos_token_id": eos_ids,
        "pad_token_id": pad_token_id(model, eos_ids),
    }
    if request.temperature > 0:
        kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=0)
    if request.stop:
        kwargs.update(stop_strings=list(request.stop), tokenizer=model.tokenizer)
    if model.logits_processors:
        from transformers import LogitsProcessorList

        kwargs["logits_processor"] = LogitsProcessorList(model.logits_processors)
    return kwargs


def _run(
    model: HFModel, requests: Sequence[GenerationRequest], eos_ids: list[int]
) -> list[Generation]:
    """One ``generate`` call for requests sharing their settings (the first one's)."""
    request = requests[0]
    prompts = [prompt_token_ids(model.tokenizer, r) for r in requests]
    pad = pad_token_id(model, eos_ids)
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, tokens in enumerate(prompts):  # left padding: every prompt ends at the same column
        ids[row, width - len(tokens) :] = torch.tensor(tokens)
        mask[row, width - len(tokens) :] = 1
    if request.seed is not None:
        torch.manual_seed(request.seed)
    kwargs = generation_kwargs(model, request, eos_ids)
    kwargs.update(
        num_return_sequences=request.n,
        return_dict_in_generate=True,
        output_logits=request.top_logprobs > 0,
    )
    out = model.model.generate(ids.to(model.device), attention_mask=mask.to(model.device), **kwargs)
    generations = []
    for row, (r, tokens) in enumerate(zip(requests, prompts, strict=True)):
        rows = slice(row * r.n, (row + 1) * r.n)
        new_tokens = out.sequences[rows, width:]
        generation = _to_generation(model, r, new_tokens, out, eos_ids, len(tokens), rows.start)
        model.stats.add(
            forwarded=len(tokens) * r.n, generated=generation.completion_tokens, requests=1
        )
        generations.append(generation)
    return generations


def _to_generation(
    model: HFModel,
    request: GenerationRequest,
    new_tokens: Any,
    out: Any,
    eos_ids: list[int],
    prompt_tokens: int,
    first_row: int = 0,
) -> Generation:
    texts, reasons, logprobs = [], [], []
    generated = 0
    for row in range(new_tokens.shape[0]):
        tokens = new_tokens[row].tolist()
        ended = next((i for i, t in enumerate(tokens) if t in eos_ids), None)
        kept = tokens if ended is None else tokens[:ended]
        generated += len(tokens) if ended is None else ended + 1
        text, stopped = truncate_at_stop(
            str(model.tokenizer.decode(kept, skip_special_tokens=True)), request.stop
        )
        texts.append(text)
        reasons.append("stop" if stopped or ended is not None else "length")
        if request.top_logprobs > 0:
            logprobs.append(
                _token_logprobs(model, out.logits, first_row + row, kept, request.top_logprobs)
            )
    return Generation(
        texts=tuple(texts),
        finish_reasons=tuple(reasons),
        logprobs=tuple(logprobs) if request.top_logprobs > 0 else None,
        prompt_tokens=prompt_tokens * request.n,
        completion_tokens=generated,
    )


def _token_logprobs(
    model: HFModel, logits: Sequence[Any], row: int, tokens: list[int], k: int
) -> tuple[TokenLogprob, ...]:
    """Log-probabilities (nats) from the model's raw logits, before temperature or top-p."""

    def decode(ids: list[int]) -> str:
        return str(model.tokenizer.decode(ids))

    result = []
    for step, token in enumerate(tokens):
        logprobs = torch.log_softmax(logits[step][row].float(), dim=-1)
        top = torch.topk(logprobs, k)
        result.append(
            TokenLogprob(
                token=decode([token]),
                logprob=float(logprobs[token]),
                top={
                    decode([int(i)]): float(v) for v, i in zip(top.values, top.indices, strict=True)
                },
            )
        )
    return tuple(result)
