"""The ``openai/<model>`` backend: any OpenAI-compatible server (vLLM, llama.cpp, TGI, hosted).

Requests run concurrently on an ``httpx.AsyncClient``; the public methods are synchronous and
return results in request order. The API key comes from ``OPENAI_API_KEY`` and is sent as a
bearer token only: it never reaches ``describe()``, the fingerprint, a log line or an error.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

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
from haechi.models.http_retry import RetryPolicy, post_json
from haechi.models.spec import validate_args

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

T = TypeVar("T")
R = TypeVar("R")


def _default_base_url() -> str:
    return os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


class OpenAIArgs(BaseModel):
    """Options of the ``openai`` backend. Times are in seconds.

    ``tokenizer`` (a Hugging Face id or path of the served model's tokenizer) makes
    log-likelihoods count continuation tokens like lm-evaluation-harness instead of reading
    the server's ``text_offset``.
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(default_factory=_default_base_url)
    concurrency: int = Field(8, ge=1)
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_base: float = Field(0.5, ge=0)
    backoff_max: float = Field(30.0, ge=0)
    tokenizer: str | None = None


@dataclass(frozen=True)
class _Echo:
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


class OpenAIModel:
    """A model served behind an OpenAI-compatible HTTP API."""

    def __init__(self, model: str, args: OpenAIArgs, api_key: str | None = None) -> None:
        self.model = model
        self.args = args
        self.name = f"openai/{model}"
        self.base_url = args.base_url.rstrip("/")
        self.stats = TokenStats()
        self._api_key = api_key or None
        self._policy = RetryPolicy(args.max_retries, args.backoff_base, args.backoff_max)
        self._tokenizer: Any = None
        self.fingerprint = digest(
            {
                "backend": "openai",
                "model": model,
                "base_url": _public_url(self.base_url),
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
            "base_url": _public_url(self.base_url),
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

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Score each continuation (nats) from one echoed ``/completions`` call per request."""
        if self.args.tokenizer:
            self._load_tokenizer()
        return _run_sync(lambda: self._map(self._score, requests))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Chat requests go to ``/chat/completions``, plain prompts to ``/completions``."""
        return _run_sync(lambda: self._map(self._generate, requests))

    # -- concurrency and HTTP -----------------------------------------------------------

    async def _map(
        self, fn: Callable[[httpx.AsyncClient, R], Awaitable[T]], items: Sequence[R]
    ) -> list[T]:
        """Apply ``fn`` to every item, at most ``concurrency`` at a time, keeping order.

        ``concurrency`` workers pull from one shared index instead of a task per item behind
        a semaphore: in-flight requests are bounded the same way, but a million requests do
        not become a million pending tasks.
        """
        results: dict[int, T] = {}
        pending = iter(range(len(items)))
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        limits = httpx.Limits(
            max_connections=self.args.concurrency, max_keepalive_connections=self.args.concurrency
        )
        async with httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(self.args.timeout), limits=limits
        ) as client:

            async def worker() -> None:
                for index in pending:
                    results[index] = await fn(client, items[index])

            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(min(self.args.concurrency, len(items))):
                        group.create_task(worker())
            except ExceptionGroup as failures:
                # The first failure cancels the rest; callers want the error, not a group.
                raise failures.exceptions[0] from None
        return [results[i] for i in range(len(items))]

    def _secrets(self) -> list[str]:
        """Values no message may show: the key, and a password inside the base URL."""
        try:
            password = httpx.URL(self.base_url).password
        except httpx.InvalidURL:
            password = None
        return [s for s in (self._api_key, password) if s]

    async def _post(
        self, client: httpx.AsyncClient, path: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        public = _public_url(self.base_url)
        hints = {
            401: f"check {API_KEY_ENV} and --base-url / base_url= (now {public})",
            403: f"check {API_KEY_ENV} and --base-url / base_url= (now {public})",
            404: f"check --base-url / base_url= (now {public}; it usually ends in /v1) "
            f"and the model name {self.model!r}",
        }
        body = await post_json(
            client,
            self.base_url + path,
            payload,
            policy=self._policy,
            hints=hints,
            secrets=self._secrets(),
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
        context, continuation = _move_trailing_space(request.context, request.continuation)
        self.stats.add(requests=1)
        if not continuation:
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
        echo = _parse_echo(await self._post(client, "/completions", payload))
        if self._tokenizer is not None:
            start = len(echo.tokens) - self._count_continuation(context, prompt, echo)
        else:
            start = _continuation_start(echo, prompt, continuation)
        return _sum_continuation(echo, start, empty_context=not context)

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

    def _count_continuation(self, context: str, prompt: str, echo: _Echo) -> int:
        """Continuation tokens as lm-evaluation-harness counts them: tokens of the whole
        prompt minus tokens of the context, both with the tokenizer's special tokens (BOS)."""
        whole = len(self._tokenizer(prompt)["input_ids"])
        n_context = len(self._tokenizer(context)["input_ids"])
        if echo.prompt_tokens is not None and echo.prompt_tokens != whole:
            raise BackendError(
                f"the server split the prompt into {echo.prompt_tokens} tokens but tokenizer "
                f"{self.args.tokenizer!r} gives {whole}; the tokenizer argument must be the "
                "served model's tokenizer (or leave it out to use the server's text_offset)"
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
        # Some servers (llama-cpp-python) ignore n and answer one choice: ask again for
        # the rest, shifting the seed so a seeded request does not repeat one sample.
        while len(texts) < request.n:
            payload = _generation_payload(self.model, request, request.n - len(texts), calls)
            body = await self._post(client, path, payload)
            calls += 1
            choices = body.get("choices")
            if not isinstance(choices, list) or not choices:
                raise BackendError(f"POST {path} answered without choices")
            for choice in sorted(choices, key=lambda c: int(c.get("index") or 0)):
                if len(texts) == request.n:
                    break
                text = choice.get("message", {}).get("content") if chat else choice.get("text")
                texts.append(str(text or ""))
                reasons.append(str(choice.get("finish_reason") or ""))
                if request.top_logprobs > 0:
                    logprobs.append(_generated_logprobs(choice.get("logprobs"), chat))
        self.stats.add(requests=1)
        return Generation(
            tuple(texts), tuple(reasons), tuple(logprobs) if request.top_logprobs > 0 else None
        )


def _generation_payload(
    model: str, request: GenerationRequest, n: int, seed_shift: int
) -> dict[str, Any]:
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


def _move_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the continuation, as lm-evaluation-harness
    does, so a word and the space before it are scored together."""
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def _parse_echo(body: dict[str, Any]) -> _Echo:
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
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
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
    return _Echo(
        tokens[:n_prompt],
        offsets[:n_prompt],
        logprobs[:n_prompt],
        [dict(t) if isinstance(t, dict) else None for t in tops[:n_prompt]],
        end,
        prompt_tokens if isinstance(prompt_tokens, int) else None,
    )


def _continuation_start(echo: _Echo, prompt: str, continuation: str) -> int:
    """Index of the first echoed token that covers any continuation character.

    ``text_offset`` counts characters (code points), not UTF-8 bytes: checked against
    llama-cpp-python with Korean text, and vLLM and OpenAI count the same way. The server's
    text may carry extra text before the prompt (a SentencePiece dummy-prefix space, an
    echoed ``<s>``), so the boundary is measured back from the end of the prompt. A token
    straddling the boundary counts as continuation.
    """
    shift = echo.end - len(prompt)
    if not 0 <= shift <= len(echo.tokens[0]):
        raise BackendError(
            f"the server's text_offset does not line up with the prompt ({echo.end} vs "
            f"{len(prompt)} characters); pass tokenizer=<the served model's Hugging Face "
            "tokenizer> so haechi counts continuation tokens itself"
        )
    boundary = echo.end - len(continuation)
    stops = [*echo.offsets[1:], echo.end]
    for index, (start, stop) in enumerate(zip(echo.offsets, stops, strict=True)):
        if start >= boundary or stop > boundary:
            return index
    return len(echo.tokens)


def _sum_continuation(echo: _Echo, start: int, *, empty_context: bool) -> LoglikelihoodResult:
    total = 0.0
    greedy = True
    for index in range(start, len(echo.tokens)):
        logprob = echo.logprobs[index]
        if logprob is None:
            where = "the context is empty, so " if empty_context else ""
            raise BackendError(
                f"the server returned no log-probability for echoed token {index}; {where}it "
                "belongs to the continuation. llama-cpp-python's server never scores the first "
                "token after BOS (it reports null for the first echoed token): give a "
                "non-empty context, or use a server that echoes BOS (such as vLLM)"
            )
        total += logprob
        # Compare values, not strings: alternatives are keyed by decoded text, and different
        # tokens can decode alike (partial UTF-8 bytes all decode to "" on llama.cpp).
        top = echo.tops[index]
        if not top or logprob < max(top.values()):
            greedy = False
    return LoglikelihoodResult(total, greedy, len(echo.tokens) - start)


def _public_url(url: str) -> str:
    """``url`` without a user name or password, which some proxies put in it."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    if not parsed.userinfo:
        return url
    return str(parsed.copy_with(username=None, password=None))


def _run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    # asyncio.run refuses to nest (notebooks, async web handlers): use a fresh loop in a
    # worker thread and block this one until it is done.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="haechi-openai") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
