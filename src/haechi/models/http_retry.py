"""HTTP plumbing for server backends: retrying JSON POSTs, a bounded concurrent map, a way
to run it all from synchronous code, and one TLS context for every client.

Retried: HTTP 429 and 5xx, connection errors and timeouts, with exponential backoff and
full jitter (a uniformly random wait up to the exponential ceiling, so many clients that
failed together do not come back together), or exactly the wait a ``Retry-After`` header
asks for. Any other 4xx is the caller's mistake and raises ``BackendError`` at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from haechi.errors import BackendError

logger = logging.getLogger(__name__)

_MAX_MESSAGE_CHARS = 500

T = TypeVar("T")
R = TypeVar("R")


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The verified TLS context (httpx's default: certifi, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``) every client shares. httpx builds one per client otherwise, loading the
    CA bundle each time (~0.1 s), more than a whole request to a server on loopback."""
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Times are in seconds.

    ``max_retries`` counts retries after the first attempt (0 means one attempt only).
    The n-th retry waits a random time in ``[0, min(backoff_max, backoff_base * 2**n))``.
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**retry)
        return rng.uniform(0.0, ceiling)


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The wait a response asks for: ``retry-after-ms`` (OpenAI), else ``Retry-After``
    as seconds (fractions accepted) or as an HTTP date; ``None`` when absent or unreadable."""
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def server_message(response: httpx.Response) -> str:
    """The error text a server sent: OpenAI's ``error.message``, FastAPI's ``detail``,
    else the body itself (shortened)."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
    else:
        text = ""
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and error.get("message"):
                text = str(error["message"])
            elif isinstance(error, str):
                text = error
            elif "detail" in body:
                text = str(body["detail"])
            elif "message" in body:
                text = str(body["message"])
        text = text or response.text.strip()
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[:_MAX_MESSAGE_CHARS] + "…"
    return text or response.reason_phrase


def public_url(url: str) -> str:
    """``url`` without a user name or password, which some proxies put in it."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


def redact(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret in ``text`` by ``***`` (servers sometimes quote the key back)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    payload: Mapping[str, Any],
    *,
    policy: RetryPolicy,
    hints: Mapping[int, str] | None = None,
    secrets: Sequence[str] = (),
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """POST ``payload`` as JSON to ``url`` and return the decoded JSON object.

    A ``Retry-After`` wait is honoured as given, even above ``policy.backoff_max``.
    ``hints`` maps a status code to advice appended to the error (e.g. 401 → which
    variable holds the key). Every message built here passes through ``redact`` so no
    value in ``secrets`` can reach a log line or an exception.
    """
    rng = rng or random.Random()
    attempts = policy.max_retries + 1
    last_cause = "no attempt was made"
    for attempt in range(attempts):
        wait: float | None = None
        try:
            response = await client.post(url, json=payload)
        except httpx.TimeoutException as exc:
            last_cause = f"timed out ({type(exc).__name__})"
        except httpx.TransportError as exc:
            last_cause = f"connection error ({type(exc).__name__}: {exc})"
        else:
            status = response.status_code
            if status < 400:
                return _decode(response, url, secrets)
            message = redact(server_message(response), secrets)
            last_cause = f"HTTP {status}: {message}"
            if status != 429 and status < 500:
                hint = (hints or {}).get(status)
                text = f"POST {url} failed with {last_cause}"
                raise BackendError(redact(f"{text} ({hint})" if hint else text, secrets))
            wait = retry_after_seconds(response.headers)
        if attempt == attempts - 1:
            break
        if wait is None:
            wait = policy.backoff(attempt, rng)
        logger.warning(
            "%s",
            redact(
                f"POST {url}: {last_cause}; retry {attempt + 1} of {policy.max_retries} "
                f"in {wait:.2f} s",
                secrets,
            ),
        )
        await asyncio.sleep(wait)
    raise BackendError(
        redact(f"POST {url} failed after {attempts} attempt(s); last error: {last_cause}", secrets)
    )


def _decode(response: httpx.Response, url: str, secrets: Sequence[str]) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        snippet = redact(response.text[:200], secrets)
        raise BackendError(
            f"POST {url} answered {response.status_code} without a JSON object: {snippet!r}"
        )
    return body


async def bounded_map(
    make_client: Callable[[], httpx.AsyncClient],
    fn: Callable[[httpx.AsyncClient, R], Awaitable[T]],
    items: Sequence[R],
    concurrency: int,
) -> list[T]:
    """Apply ``fn`` to every item on one client, at most ``concurrency`` at a time, in order.

    ``concurrency`` workers pull from one shared index rather than one task per item waiting
    on a semaphore: in-flight calls are bounded the same way, but a million requests do not
    become a million pending tasks. The first failure cancels the rest and is raised as is.
    """
    results: dict[int, T] = {}
    pending = iter(range(len(items)))
    async with make_client() as client:

        async def worker() -> None:
            for index in pending:
                results[index] = await fn(client, items[index])

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(concurrency, len(items))):
                    group.create_task(worker())
        except ExceptionGroup as failures:
            raise failures.exceptions[0] from None
    return [results[i] for i in range(len(items))]


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    # asyncio.run refuses to nest (notebooks, async web handlers): use a fresh loop in a
    # worker thread and block this one until it is done.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="haechi-http") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
