"""The ``openai/<model>`` backend: any OpenAI-compatible server (vLLM, llama.cpp, TGI, hosted).

Requests run concurrently on an ``httpx.AsyncClient``; the public methods are synchronous and
return results in request order. The API key comes from ``OPENAI_API_KEY`` and is sent as a
bearer token only: it never reaches ``describe()``, the fingerprint, a log line or an error.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from haechi.errors import BackendError, InputError, MissingExtraError
from haechi.models.base import (
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenLogprob,
    TokenStats,
)
from haechi.models.fingerprint import digest
from haechi.models.http_retry import (
    RetryPolicy,
    bounded_map,
    post_json,
    public_url,
    run_sync,
    ssl_context,
)
from haechi.models.openai_echo import Echo, continuation_start, parse_echo, sum_continuation
from haechi.models.spec import validate_args
from haechi.models.text import move_trailing_whitespace

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _default_base_url() -> str:
    return os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


class OpenAIArgs(BaseModel):
    """Options of the ``openai`` backend. Times are in seconds.

    ``tokenizer`` (a Hugging Face id or path of the served model's tokenizer) makes
    log-likelihoods count continuation tokens like lm-evaluation-harness instead of reading
    the server's ``text_offset``.
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(default_factory=_default_base_url, validate_default=True)
    concurrency: int = Field(8, ge=1)
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_base: float = Field(0.5, ge=0)
    backoff_max: float = Field(30.0, ge=0)
    tokenizer: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the base URL must start with http:// or https://")
        return value.rstrip("/")


class OpenAIModel:
    """A model served behind an OpenAI-compatible HTTP API."""

    concurrent_calls = True  # each generate call has its own client: threads may overlap

    def __init__(self, model: str, args: OpenAIArgs, api_key: str | None = None) -> None:
        self.model = model
        self.args = args
        self.name = f"openai/{model}"
        self.base_url = args.base_url
        self.stats = TokenStats()
        self._api_key = api_key or None
        self._policy = RetryPolicy(args.max_retries, args.backoff_base, args.backoff_max)
        self._tokenizer: Any = None
        self.fingerprint = digest(
            {
                "backend": "openai",
                "model": model,
                "base_url": public_url(self.base_url),
                "tokenizer": args.tokenizer,
            }
        )

    @classmethod
    def from_args(cls, target: str, args: dict[str, object]) -> OpenAIModel:
        """Build from a spec target and ``--model-args``; the key is read from the env."""
        return cls(target, validate_args(OpenAIArgs, args, "openai"), os.environ.get(API_KEY_ENV))

    def describe(self) -> dict[str, object]:
        """The configuration that identifies this model in records (no key, no URL password)."""
        return {
            "backend": "openai",
            "model": self.model,
            "base_url": public_url(self.base_url),
            "tokenizer": self.args.tokenizer,
            "concurrency": self.args.concurrency,
            "timeout": self.args.timeout,
            "max_retries": self.args.max_retries,
            "backoff_base": self.args.backoff_base,
            "backoff_max": self.args.backoff_max,
        }

    def __repr__(self) -> str:
        return f"OpenAIModel({self.describe()!r})"

    # -- public, synchronous ------------------------------------------------------------

    def local_tokenizer(self) -> Any:
        """The ``tokenizer`` argument's tokenizer (loaded once), or ``None`` without one: what
        renders a chat template here for ``/completions``."""
        if self.args.tokenizer:
            self._load_tokenizer()
        return self._tokenizer

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Score each continuation (nats) from one echoed ``/completions`` call per request."""
        if self.args.tokenizer:
            self._load_tokenizer()
        return run_sync(
            lambda: bounded_map(self._client, self._score, requests, self.args.concurrency)
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Chat requests go to ``/chat/completions``, plain prompts to ``/completions``."""
        return run_sync(
            lambda: bounded_map(self._client, self._generate, requests, self.args.concurrency)
        )

    def stream(self, request: GenerationRequest) -> Generator[str, None, str]:
        """Stream one completion from the server's event stream (see ``haechi.models.streaming``)."""
        from haechi.models.openai_stream import stream_pieces

        return stream_pieces(self, request)

    # -- concurrency and HTTP -----------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        limits = httpx.Limits(
            max_connections=self.args.concurrency, max_keepalive_connections=self.args.concurrency
        )
        return httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(self.args.timeout),
            limits=limits,
            verify=ssl_context(),
        )

    async def _post(
        self, client: httpx.AsyncClient, path: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        where = f"--base-url / base_url= (now {public_url(self.base_url)})"
        auth = f"check {API_KEY_ENV} and {where}"
        hints = {401: auth, 403: auth, 404: f"check {where} and the model name {self.model!r}"}
        # Besides the key, a password inside the base URL must not reach a message either.
        secrets = [s for s in (self._api_key, httpx.URL(self.base_url).password) if s]
        body = await post_json(
            client, self.base_url + path, payload, policy=self._policy, hints=hints, secrets=secrets
        )
        usage = body.get("usage")
        if isinstance(usage, dict):
            self.stats.add(
                forwarded=int(usage.get("prompt_tokens") or 0),
                generated=int(usage.get("completion_tokens") or 0),
            )
        return body

    # -- log-likelihood -----------------------------------------------------------------

    async def _score(
        self, client: httpx.AsyncClient, request: LoglikelihoodRequest
    ) -> LoglikelihoodResult:
        context, continuation = move_trailing_whitespace(request.context, request.continuation)
        if not continuation:
            self.stats.add(requests=1)
            return LoglikelihoodResult(0.0, True, 0)
        prompt = context + continuation
        # max_tokens must be 1, not 0: llama.cpp reads 0 as "generate until the context is
        # full". The one generated token is dropped below.
        payload = {
            "model": self.model,
            "prompt": prompt,
            "echo": True,
            "logprobs": 1,
            "max_tokens": 1,
            "temperature": 0,
        }
        echo = parse_echo(await self._post(client, "/completions", payload))
        if self._tokenizer is not None:
            start = len(echo.tokens) - self._count_continuation(context, prompt, echo)
        else:
            start = continuation_start(echo, prompt, continuation, empty_context=not context)
        result = sum_continuation(echo, start, empty_context=not context)
        self.stats.add(requests=1)
        return result

    def _load_tokenizer(self) -> None:
        if self._tokenizer is not None:
            return
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise MissingExtraError("transformers", "hf") from None
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.args.tokenizer)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot load tokenizer {self.args.tokenizer!r}: {exc}",
                field="openai model argument 'tokenizer'",
                hint="a Hugging Face tokenizer id or local folder of the served model",
            ) from None

    def _count_continuation(self, context: str, prompt: str, echo: Echo) -> int:
        """Continuation tokens as lm-evaluation-harness counts them: tokens of the whole
        prompt minus tokens of the context, both with the tokenizer's special tokens (BOS)."""
        whole = len(self._tokenizer(prompt)["input_ids"])
        n_context = len(self._tokenizer(context)["input_ids"])
        if echo.prompt_tokens is not None and echo.prompt_tokens != whole:
            raise BackendError(
                f"the server split the prompt into {echo.prompt_tokens} tokens but tokenizer "
                f"{self.args.tokenizer!r} gives {whole}; the tokenizer argument must be the "
                "served model's tokenizer (or leave it out to use the server's text_offset). "
                "With a chat template: this server does not read special tokens written in "
                "a prompt's text (llama-cpp-python's does not), so it cannot score templated "
                "prompts; vLLM's can"
            )
        return min(max(whole - n_context, 0), len(echo.tokens))

    # -- generation ---------------------------------------------------------------------

    async def _generate(self, client: httpx.AsyncClient, request: GenerationRequest) -> Generation:
        chat = request.messages is not None
        path = "/chat/completions" if chat else "/completions"
        texts: list[str] = []
        reasons: list[str] = []
        logprobs: list[tuple[TokenLogprob, ...]] = []
        calls = 0
        prompt_tokens = completion_tokens = 0
        # Some servers (llama-cpp-python) ignore n and answer one choice: ask again for
        # the rest, shifting the seed so a seeded request does not repeat one sample.
        while len(texts) < request.n:
            payload = generation_payload(self.model, request, request.n - len(texts), calls)
            body = await self._post(client, path, payload)
            calls += 1
            usage = body.get("usage")
            usage = usage if isinstance(usage, dict) else {}
            prompt_tokens += int(usage.get("prompt_tokens") or 0)
            completion_tokens += int(usage.get("completion_tokens") or 0)
            choices = body.get("choices")
            if not isinstance(choices, list) or not choices:
                raise BackendError(f"POST {path} answered without choices")
            try:
                for choice in sorted(choices, key=lambda c: int(c.get("index") or 0)):
                    if len(texts) == request.n:
                        break
                    text = choice["message"]["content"] if chat else choice["text"]
                    texts.append(str(text or ""))
                    reasons.append(str(choice.get("finish_reason") or ""))
                    if request.top_logprobs > 0:
                        logprobs.append(_generated_logprobs(choice.get("logprobs"), chat))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise BackendError(f"POST {path} answered an unexpected shape: {exc!r}") from exc
        self.stats.add(requests=1)
        return Generation(
            tuple(texts),
            tuple(reasons),
            tuple(logprobs) if request.top_logprobs > 0 else None,
            prompt_tokens,
            completion_tokens,
        )


def generation_payload(
    model: str, request: GenerationRequest, n: int, seed_shift: int
) -> dict[str, Any]:
    """The JSON body of one generation call (``/chat/completions`` for messages, else
    ``/completions``), shared by ``generate`` and streaming; ``seed_shift`` varies the seed
    of repeated calls for ``n`` answers."""
    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_new_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
    }
    if n > 1:
        payload["n"] = n
    if request.stop:
        payload["stop"] = list(request.stop)
    if request.seed is not None:
        payload["seed"] = request.seed + seed_shift
    if request.messages is not None:
        payload["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        if request.top_logprobs > 0:
            payload["logprobs"] = True
            payload["top_logprobs"] = request.top_logprobs
    else:
        payload["prompt"] = request.prompt
        if request.top_logprobs > 0:
            payload["logprobs"] = request.top_logprobs
    return payload


def _generated_logprobs(data: Any, chat: bool) -> tuple[TokenLogprob, ...]:
    """Read ``logprobs`` of a chat choice (``content`` list) or a completion choice
    (parallel ``tokens`` / ``token_logprobs`` / ``top_logprobs`` lists)."""
    if not isinstance(data, dict):
        raise BackendError("top_logprobs were asked for but the server returned no logprobs")
    if chat:
        return tuple(
            TokenLogprob(
                str(item["token"]),
                float(item["logprob"]),
                {str(t["token"]): float(t["logprob"]) for t in item.get("top_logprobs") or []},
            )
            for item in data.get("content") or []
        )
    tops = data.get("top_logprobs") or [None] * len(data.get("tokens") or [])
    return tuple(
        TokenLogprob(str(token), float(lp), {str(k): float(v) for k, v in (top or {}).items()})
        for token, lp, top in zip(data["tokens"], data["token_logprobs"], tops, strict=True)
        if lp is not None
    )
