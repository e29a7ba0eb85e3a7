"""The ``hf/<hub id or path>`` backend: transformers, in-process (haechi's embedded default)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from haechi.errors import HaechiError, InputError, MissingExtraError
from haechi.models.base import (
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenStats,
)
from haechi.models.fingerprint import digest, weights_hash
from haechi.models.spec import validate_args

DEFAULT_MAX_LENGTH = 2048  # the harness's fallback when neither config nor tokenizer says
TOKENIZER_UNSET = int(1e30)  # transformers' "no limit" model_max_length


class HFArgs(BaseModel):
    """Options of the ``hf`` backend (``--model-args key=value,...`` at the CLI)."""

    model_config = ConfigDict(extra="forbid")

    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    revision: str | None = None
    trust_remote_code: bool = False
    max_length: int | None = None
    batch_size: int | Literal["auto"] = "auto"
    add_bos_token: bool | None = None
    prefix_sharing: bool = True
    pack_tokens: int = 2048


class HFModel:
    """A causal LM and its tokenizer loaded with transformers.

    ``dtype=auto`` means float32 on CPU and the checkpoint's own dtype on GPU.
    """

    def __init__(self, target: str, args: HFArgs) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise MissingExtraError(exc.name or "transformers", "hf") from None

        self.name = f"hf/{target}"
        self.target = target
        self.args = args
        self.stats = TokenStats()
        # decode-time processors (haechi.guard) passed to every generate call
        self.logits_processors: list[Any] = []
        local = Path(target).expanduser()
        if _looks_like_path(target) and not local.is_dir():
            raise InputError(f"no model folder at {target}", field="model")
        source = str(local.resolve()) if local.is_dir() else target
        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu")
            if args.device == "auto"
            else args.device
        )
        dtype: Any = "auto"
        if args.dtype != "auto":
            dtype = getattr(torch, args.dtype)
        elif self.device.type == "cpu":
            dtype = torch.float32
        common = {"revision": args.revision, "trust_remote_code": args.trust_remote_code}
        try:
            # As lm-eval 0.4.13 does: the tokenizer is loaded with add_bos_token, so a
            # tokenizer saved with add_bos_token=false still prepends BOS when asked to.
            bos = {} if args.add_bos_token is None else {"add_bos_token": args.add_bos_token}
            self.tokenizer = AutoTokenizer.from_pretrained(source, **common, **bos)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **common)
        except OSError as exc:
            raise HaechiError(f"could not load model {target!r}: {exc}") from exc
        self.model.to(self.device).eval()  # type: ignore[arg-type]
        self.max_length = args.max_length or _resolve_max_length(self.model.config, self.tokenizer)
        revision = (
            weights_hash(local) if local.is_dir() else _commit_hash(self.model) or args.revision
        )
        self.identity = {
            "backend": "hf",
            "model": source if local.is_dir() else target,
            "revision": revision,
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "max_length": self.max_length,
            "add_bos_token": args.add_bos_token,
            "trust_remote_code": args.trust_remote_code,
        }
        self.fingerprint = digest(self.identity)

    @classmethod
    def from_args(cls, target: str, args: dict[str, object]) -> HFModel:
        return cls(target, validate_args(HFArgs, args, "hf"))

    def describe(self) -> dict[str, object]:
        return {
            **self.identity,
            "device": str(self.device),
            "batch_size": self.args.batch_size,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "vocab_size": len(self.tokenizer),
        }

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Score requests, tokenized exactly as lm-evaluation-harness 0.4.13 does."""
        from haechi.models.hf_scoring import TokenPair, model_input, score_pairs
        from haechi.models.hf_tokenize import encode_pair
        from haechi.models.token_floor import unique_prefix_tokens

        pairs = [
            TokenPair(
                *encode_pair(
                    self.tokenizer, r.context, r.continuation, add_bos_token=self.args.add_bos_token
                )
            )
            for r in requests
        ]
        auto = self.args.batch_size == "auto"
        scored = score_pairs(
            self.model,
            pairs,
            max_length=self.max_length,
            # auto: start large on a GPU and halve on out-of-memory; 4 rows suit a CPU
            batch_size=(64 if self.device.type == "cuda" else 4)
            if auto
            else int(self.args.batch_size),
            device=self.device,
            share_prefixes=self.args.prefix_sharing,
            pack_tokens=max(self.args.pack_tokens, 1),
            auto_batch=auto,
        )
        inputs = [model_input(p, self.max_length) for p in pairs]
        self.stats.add(
            forwarded=scored.forwarded,
            padding=scored.padding,
            naive=sum(len(i) for i in inputs),
            floor=unique_prefix_tokens(inputs),
            requests=len(requests),
        )
        return scored.results

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate for prompts or chat messages (the tokenizer's chat template is applied)."""
        from haechi.models.hf_generate import generate

        return generate(self, requests)

    def padding_token_id(self) -> int:
        """The id batched generation left-pads with: the pad token, else the first stop id."""
        from haechi.models.hf_generate import pad_token_id, stop_token_ids

        return pad_token_id(self, stop_token_ids(self))

    def stream(self, request: GenerationRequest) -> Generator[str, None, str]:
        """Stream one completion as text pieces (see ``haechi.models.streaming``)."""
        from haechi.models.hf_stream import stream_pieces

        return stream_pieces(self, request)


def _looks_like_path(target: str) -> bool:
    return target.startswith((".", "/", "~")) or target.count("/") > 1


def _commit_hash(model: Any) -> str | None:
    return getattr(model.config, "_commit_hash", None)


def _resolve_max_length(config: Any, tokenizer: Any) -> int:
    """Context length from the (text) config, else the tokenizer, else 2048: the harness's
    order, so truncation matches it."""
    source = getattr(config, "text_config", None) or config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(source, attr, None)
        if value is not None:
            return int(value)
    limit = getattr(tokenizer, "model_max_length", None)
    if limit is not None and limit != TOKENIZER_UNSET:
        return int(limit)
    return DEFAULT_MAX_LENGTH
