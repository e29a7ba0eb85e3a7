"""The ``vllm/<id or path>`` backend: vLLM's offline engine (optional extra ``haechi[vllm]``).

Log-likelihoods come from ``prompt_logprobs`` over the lm-eval-compatible token split, so
they are comparable with the ``hf`` backend; vLLM's automatic prefix caching shares the
few-shot prefixes between requests. Tensor/pipeline parallelism and Ray are vLLM's own
arguments (``tensor_parallel_size``, ``pipeline_parallel_size``, ``distributed_executor_backend``).
"""

from __future__ import annotations

from collections.abc import Sequence
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
from haechi.models.hf_generate import render_prompt
from haechi.models.hf_tokenize import encode_pair
from haechi.models.spec import validate_args


class VLLMArgs(BaseModel):
    """Options of the ``vllm`` backend."""

    model_config = ConfigDict(extra="forbid")

    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    revision: str | None = None
    trust_remote_code: bool = False
    max_length: int | None = None
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    distributed_executor_backend: Literal["mp", "ray"] | None = None
    gpu_memory_utilization: float = 0.9
    seed: int = 0
    add_bos_token: bool | None = None


class VLLMModel:
    """A model served in-process by vLLM (GPU machines; never used in CI)."""

    def __init__(self, target: str, args: VLLMArgs) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise MissingExtraError("vllm", "vllm") from None
        self.name = f"vllm/{target}"
        self.args = args
        self.stats = TokenStats()
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
            seed=args.seed,
            enable_prefix_caching=True,
        )
        self.tokenizer = self.engine.get_tokenizer()
        self.max_length = self.engine.llm_engine.model_config.max_model_len
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
        return {**self.identity, **self.args.model_dump()}

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        from vllm import SamplingParams

        pairs = [
            encode_pair(
                self.tokenizer, r.context, r.continuation, add_bos_token=self.args.add_bos_token
            )
            for r in requests
        ]
        # Same left truncation as the hf backend: keep the last max_length tokens.
        inputs = [(ctx + cont)[-self.max_length :] for ctx, cont in pairs]
        params = SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=1)
        outputs = self.engine.generate(
            [{"prompt_token_ids": ids} for ids in inputs], params, use_tqdm=True
        )
        results = []
        for (_, cont), ids, out in zip(pairs, inputs, outputs, strict=True):
            positions = range(len(ids) - len(cont), len(ids))
            entries = [out.prompt_logprobs[i][ids[i]] for i in positions]
            results.append(
                LoglikelihoodResult(
                    logprob=float(sum(e.logprob for e in entries)),
                    is_greedy=all(e.rank == 1 for e in entries),
                    n_tokens=len(cont),
                )
            )
        # vLLM reuses cached prefixes internally and does not report how many it skipped
        self.stats.add(
            forwarded=sum(len(i) for i in inputs),
            naive=sum(len(i) for i in inputs),
            requests=len(requests),
        )
        return results

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        from vllm import SamplingParams

        outputs = []
        for request in requests:
            params = SamplingParams(
                n=request.n,
                temperature=request.temperature,
                top_p=request.top_p,
                max_tokens=request.max_new_tokens,
                stop=list(request.stop) or None,
                seed=request.seed,
                logprobs=request.top_logprobs or None,
            )
            prompt = render_prompt(self.tokenizer, request)
            (out,) = self.engine.generate([prompt], params, use_tqdm=False)
            self.stats.add(
                forwarded=len(out.prompt_token_ids),
                generated=sum(len(c.token_ids) for c in out.outputs),
                requests=1,
            )
            outputs.append(
                Generation(
                    texts=tuple(c.text for c in out.outputs),
                    finish_reasons=tuple(c.finish_reason or "length" for c in out.outputs),
                    logprobs=tuple(_logprobs(c) for c in out.outputs)
                    if request.top_logprobs
                    else None,
                    prompt_tokens=len(out.prompt_token_ids),
                    completion_tokens=sum(len(c.token_ids) for c in out.outputs),
                )
            )
        return outputs


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
