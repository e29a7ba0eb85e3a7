"""Streaming for the ``hf`` backend: transformers' ``TextIteratorStreamer`` fed by
``generate`` in a thread, with the same prompt and settings as ``hf_generate``."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from haechi.models.base import GenerationRequest
from haechi.models.streaming import Pieces, StopFilter

if TYPE_CHECKING:
    from haechi.models.hf import HFModel

# SentencePiece's byte-fallback pieces, e.g. <0xEB>
_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def stream_pieces(model: HFModel, request: GenerationRequest) -> Pieces:
    """Stream one completion: ``generate`` runs in a thread and feeds a streamer."""
    import torch
    from transformers import (
        StoppingCriteria,
        StoppingCriteriaList,
        TextIteratorStreamer,
    )

    # The prompt and the decoding settings are exactly those of HFModel.generate.
    from haechi.models.hf_generate import generation_kwargs, prompt_token_ids, stop_token_ids

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool)

    class StableStreamer(TextIteratorStreamer):
        """Queues only text that later tokens cannot change, so the pieces add up to the
        final decode: transformers' own rule shows letters at once, but SentencePiece's
        byte fallback decodes a run of byte tokens as one UTF-8 sequence, and a later byte
        can turn an already shown "H" into a replacement character."""

        def put(self, value: Any) -> None:
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.reshape(-1).tolist())
            last = str(self.tokenizer.convert_ids_to_tokens(self.token_cache[-1]))
            if _BYTE_TOKEN.fullmatch(last):
                return  # a byte run may still grow into (or spoil) a character
            text = str(self.tokenizer.decode(self.token_cache, **self.decode_kwargs))
            if not text.endswith("\ufffd"):  # an unfinished byte-level character
                self.on_finalized_text(text[self.print_len :])
                self.print_len = len(text)

    cancel = threading.Event()
    prompt = prompt_token_ids(model.tokenizer, request)
    eos_ids = stop_token_ids(model)
    streamer = StableStreamer(model.tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs = generation_kwargs(model, request, eos_ids)
    kwargs.update(streamer=streamer, stopping_criteria=StoppingCriteriaList([Cancelled()]))
    if request.seed is not None:
        torch.manual_seed(request.seed)
    ids = torch.tensor([prompt], device=model.device)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            with torch.inference_mode():
                outcome["sequences"] = model.model.generate(
                    ids, attention_mask=torch.ones_like(ids), **kwargs
                )
        except BaseException as exc:  # handed to the reading thread, which raises it
            outcome["error"] = exc
            streamer.end()  # unblock the reader

    thread = threading.Thread(target=work, name="haechi-stream", daemon=True)
    thread.start()
    stops = StopFilter(request.stop)
    try:
        for piece in streamer:
            if text := stops.push(piece):
                yield text
            if stops.stopped:
                break
        if tail := stops.flush():
            yield tail
    finally:
        cancel.set()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    new = outcome["sequences"][0, len(prompt) :].tolist()
    ended = next((i + 1 for i, t in enumerate(new) if t in eos_ids), None)
    model.stats.add(forwarded=len(prompt), generated=ended or len(new), requests=1)
    return "stop" if stops.stopped or ended is not None else "length"
