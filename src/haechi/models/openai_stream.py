"""Streaming for the ``openai`` backend: one POST with ``"stream": true``, its server-sent
events read line by line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from haechi.errors import BackendError
from haechi.models.base import GenerationRequest
from haechi.models.http_retry import public_url, redact, server_message
from haechi.models.streaming import Pieces, StopFilter

if TYPE_CHECKING:
    from haechi.models.openai_api import OpenAIModel


def stream_pieces(model: OpenAIModel, request: GenerationRequest) -> Pieces:
    """One streamed ``/chat/completions`` (or ``/completions``) call. Unlike ``generate``,
    a failed stream is not retried: a person is waiting and can send the message again."""
    from haechi.models.openai_api import API_KEY_ENV, generation_payload

    chat = request.messages is not None
    url = model.base_url + ("/chat/completions" if chat else "/completions")
    payload = {**generation_payload(model.model, request, 1, 0), "stream": True}
    # The key the model was built with (from $OPENAI_API_KEY), sent as it sends it.
    key = model._api_key
    secrets = [s for s in (key, httpx.URL(model.base_url).password) if s]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    hint = f"check {API_KEY_ENV} and --base-url (now {public_url(model.base_url)})"
    stops = StopFilter(request.stop)
    reason = ""
    with (
        httpx.Client(headers=headers, timeout=httpx.Timeout(model.args.timeout)) as client,
        _open(client, url, payload, secrets, hint) as response,
    ):
        for event in _events(response, url, secrets):
            _count_usage(model, event)
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                if piece and (text := stops.push(str(piece))):
                    yield text
                reason = str(choice.get("finish_reason") or reason)
            if stops.stopped:
                break
    if tail := stops.flush():
        yield tail
    model.stats.add(requests=1)
    return "stop" if stops.stopped else reason or "stop"


@contextmanager
def _open(
    client: httpx.Client, url: str, payload: dict[str, Any], secrets: list[str], hint: str
) -> Iterator[httpx.Response]:
    """POST and keep the response open for reading; HTTP errors become ``BackendError``."""
    try:
        response = client.send(client.build_request("POST", url, json=payload), stream=True)
    except httpx.TransportError as exc:
        raise BackendError(redact(f"POST {url}: {type(exc).__name__}: {exc}", secrets)) from None
    try:
        if response.status_code >= 400:
            response.read()
            message = redact(server_message(response), secrets)
            raise BackendError(
                f"POST {url} failed with HTTP {response.status_code}: {message} ({hint})"
            )
        yield response
    finally:
        response.close()


def _events(response: httpx.Response, url: str, secrets: list[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of the ``data:`` lines of a server-sent event stream, up to
    ``[DONE]``; an ``error`` object sent mid-stream raises ``BackendError``."""
    try:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # comments, event names, keep-alive blank lines
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                raise BackendError(
                    f"POST {url} streamed a line that is not JSON: {data[:200]!r}"
                ) from None
            if not isinstance(event, dict):
                raise BackendError(f"POST {url} streamed an unexpected shape: {data[:200]!r}")
            if "error" in event:
                raise BackendError(
                    redact(f"POST {url} failed mid-stream: {event['error']}", secrets)
                )
            yield event
    except httpx.TransportError as exc:
        raise BackendError(redact(f"POST {url}: stream broke: {exc}", secrets)) from None


def _count_usage(model: OpenAIModel, event: dict[str, Any]) -> None:
    usage = event.get("usage")
    if isinstance(usage, dict):
        model.stats.add(
            forwarded=int(usage.get("prompt_tokens") or 0),
            generated=int(usage.get("completion_tokens") or 0),
        )
