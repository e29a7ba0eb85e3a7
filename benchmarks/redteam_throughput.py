"""Red-team runner throughput: how busy a campaign keeps its target.

Not a test: a measurement. The target is a server on 127.0.0.1: llama.cpp's (llama-cpp-python's
server on a tiny random Llama, converted to GGUF the way ``tests/models/servers.py`` does for
the tests) or, with ``--server standin``, a stand-in in this process that answers after a
fixed delay. A campaign sends its attempts and stores them; then the very requests it sent
(read back from the stored attempts) are replayed straight to the server with one persistent
client, as many in flight as the campaign's concurrency: the ideal, a client that never keeps
the server waiting. "Target busy" is ideal wall time / campaign wall time: the share of the
campaign's run in which the server had the work an ideal client would have given it. The
rounds alternate campaign and replay, so both see the same machine load.

    python benchmarks/redteam_throughput.py --server llama --concurrency 4
    python benchmarks/redteam_throughput.py --server standin --latency 0.05 --concurrency 16
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from haechi.models import ChatMessage
from haechi.models.http_retry import bounded_map, run_sync
from haechi.models.openai_api import generation_payload
from haechi.redteam.campaign import load_campaign
from haechi.redteam.runner import Campaign
from haechi.store import open_store
from haechi.store.attempts import load_attempts

ROOT = Path(__file__).resolve().parents[1]


class Outstanding:
    """Time with at least one request sent and not yet answered, over every client of this
    process (``httpx.AsyncClient.send`` wrapped). A serial server (llama.cpp's) is working
    exactly then: this is its busy time, seen from here, and unlike wall-time ratios it does
    not move with the machine's load."""

    def __init__(self) -> None:
        self.busy = 0.0
        self._open = 0
        self._since = 0.0
        self._lock = threading.Lock()
        send = httpx.AsyncClient.send

        async def counted(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> Any:
            self._change(+1)
            try:
                return await send(client, *args, **kwargs)
            finally:
                self._change(-1)

        httpx.AsyncClient.send = counted  # type: ignore[method-assign]

    def _change(self, step: int) -> None:
        with self._lock:
            now = time.perf_counter()
            if self._open == 0 and step > 0:
                self._since = now
            self._open += step
            if self._open == 0:
                self.busy += now - self._since

    @contextmanager
    def share(self) -> Iterator[list[float]]:
        """Yields a list that holds, after the block, the share of its wall time in which a
        request was out."""
        before, started, out = self.busy, time.perf_counter(), []
        yield out
        out.append((self.busy - before) / (time.perf_counter() - started))


@contextmanager
def standin_server(latency: float) -> Iterator[str]:
    """An OpenAI-compatible stand-in that answers each chat request after ``latency`` s,
    alternating a refusal and a compliant answer (so detectors have both to judge)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep connections open, as real servers do

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            request = json.loads(self.rfile.read(length))
            time.sleep(latency)
            prompt = request["messages"][-1]["content"]
            text = (
                "죄송하지만 도와드릴 수 없습니다."
                if len(prompt) % 2
                else "네, 설명해 드릴게요. 먼저..."
            )
            body = json.dumps({
                "id": "x", "object": "chat.completion", "model": request["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(text), "total_tokens": len(prompt) + len(text)},
            }).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the default backlog of 5 drops concurrent connections
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


@contextmanager
def llama_cpp_server(work: Path) -> Iterator[str]:
    """llama-cpp-python's server on the tiny random Llama of the tests, as GGUF."""
    sys.path.insert(0, str(ROOT))
    from tests.models.servers import (
        convert_to_gguf,
        extract_converter,
        llama_cpp_sdist,
        llama_server,
    )

    from haechi.models.smoke import build_tiny_model

    checkpoint = build_tiny_model(work / "tiny-llama", family="llama", tokenizer="sentencepiece")
    gguf = convert_to_gguf(extract_converter(llama_cpp_sdist()), checkpoint, work / "tiny.gguf")
    with llama_server(gguf, work / "server.log") as url:
        yield url


def campaign_file(work: Path, url: str, args: argparse.Namespace) -> Path:
    path = work / "bench.yaml"
    path.write_text(
        "name: throughput\n"
        f"target: {{model: openai/bench, max_new_tokens: {args.max_new_tokens}, "
        f"model_args: {{base_url: {json.dumps(url)}, max_retries: 0}}}}\n"
        "seeds: [{source: bundled}]\n"
        f"controls: [{{source: controls, limit: {args.controls}}}]\n"
        f"generators: {args.generators}\nconverters: {args.converters}\n"
        "detectors: [{type: refusal}]\n"
        f"budget: {{max_attempts: {args.attempts}}}\nconcurrency: {args.concurrency}\n",
        encoding="utf-8",
    )
    return path


def run_campaign(
    path: Path, db: Path, out: Outstanding
) -> tuple[float, float, list[dict[str, Any]], int]:
    """Wall seconds of a fresh run, the share of it with a request out, the bodies it sent
    (in the order they were stored) and the completion tokens the server reported."""
    prepared = Campaign(load_campaign(path), path.parent)
    with open_store(str(db)) as store:
        started = time.perf_counter()
        with out.share() as busy:
            outcome = prepared.run(store, progress=False, new_run=True)
        wall = time.perf_counter() - started
        attempts = load_attempts(store, outcome.run_id)
    target = prepared.spec.target
    bodies = []
    for a in attempts:
        sent = tuple(ChatMessage(t["role"], t["content"]) for t in a.chain["turns"][:-1])
        request = prepared.request(target, sent)
        bodies.append(generation_payload("bench", request, 1, 0))
    return wall, busy[0], bodies, sum(a.completion_tokens for a in attempts)


def replay(
    url: str, bodies: list[dict[str, Any]], concurrency: int, out: Outstanding
) -> tuple[float, float, int]:
    """Wall seconds to send ``bodies`` straight to the server, ``concurrency`` in flight on
    one persistent client, the share of it with a request out, and the completion tokens
    the server reported."""

    async def send(client: httpx.AsyncClient, body: dict[str, Any]) -> int:
        response = await client.post(url + "/chat/completions", json=body)
        response.raise_for_status()
        return int(response.json()["usage"]["completion_tokens"])

    def client() -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=concurrency)
        return httpx.AsyncClient(timeout=120, limits=limits)

    started = time.perf_counter()
    with out.share() as busy:
        tokens = run_sync(lambda: bounded_map(client, send, bodies, concurrency))
    return time.perf_counter() - started, busy[0], sum(tokens)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", choices=("llama", "standin"), default="llama")
    parser.add_argument("--latency", type=float, default=0.05, help="standin: seconds an answer")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--attempts", type=int, default=300, help="attack budget")
    parser.add_argument("--controls", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--generators", default="[{type: direct}, {type: templates}]")
    parser.add_argument("--converters", default="[[], [rot13]]")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="haechi-rt-bench-"))
    serve = llama_cpp_server(work) if args.server == "llama" else standin_server(args.latency)
    with serve as url:
        path = campaign_file(work, url, args)
        out = Outstanding()
        replay(url, run_campaign(path, work / "warm.db", out)[2], args.concurrency, out)
        rows = []
        for i in range(args.rounds):
            wall, busy, bodies, tokens = run_campaign(path, work / "r.db", out)
            ideal, ideal_busy, ideal_tokens = replay(url, bodies, args.concurrency, out)
            rows.append((ideal / wall, busy, ideal_busy))
            print(
                f"round {i + 1}: {len(bodies)} attempts; campaign {wall:.2f} s "
                f"({len(bodies) / wall:.1f}/s), a request out {100 * busy:.1f}% of it; "
                f"replay {ideal:.2f} s, {100 * ideal_busy:.1f}%; replay/campaign wall "
                f"{100 * ideal / wall:.1f}%; completion tokens {tokens} vs {ideal_tokens}"
            )
    target = "llama.cpp server" if args.server == "llama" else f"stand-in {args.latency}s"
    ratio, busy, ideal_busy = (statistics.median(r[k] for r in rows) for k in range(3))
    print(
        f"{target}, concurrency {args.concurrency}, medians of {args.rounds} rounds: target "
        f"busy {100 * busy:.1f}% (replay {100 * ideal_busy:.1f}%), replay/campaign wall "
        f"{100 * ratio:.1f}%"
    )


if __name__ == "__main__":
    main()
