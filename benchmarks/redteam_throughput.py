"""Red-team runner throughput: a 1,000-attempt campaign against a loopback API target.

Not a test: a measurement. A small OpenAI-compatible server on 127.0.0.1 answers every
chat request after a fixed delay (standing in for a model server); the campaign sends
1,000 attempts through it and the report says attempts per second and what share of the
wall time the runner spent waiting on the target (the rest is the runner's own work:
planning, converters, detectors, storing).

    python benchmarks/redteam_throughput.py --latency 0.05 --concurrency 16
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from haechi.redteam.campaign import load_campaign
from haechi.redteam.runner import Campaign
from haechi.store import open_store


def serve(latency: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep connections open, as real servers do

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            request = json.loads(self.rfile.read(length))
            time.sleep(latency)
            prompt = request["messages"][-1]["content"]
            # alternate refusals and compliance so detectors have both to judge
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
    return server


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds the target takes per answer"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--attempts", type=int, default=1000)
    args = parser.parse_args()
    server = serve(args.latency)
    work = Path(tempfile.mkdtemp(prefix="haechi-rt-bench-"))
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    campaign = work / "bench.yaml"
    campaign.write_text(
        "name: throughput\n"
        f"target: {{model: openai/bench, model_args: {{base_url: {json.dumps(url)}, max_retries: 0}}}}\n"
        "seeds: [{source: bundled}]\ncontrols: []\n"
        "generators: [{type: direct}, {type: templates}]\n"
        "converters: [[], [jamo], [base64]]\n"
        "detectors: [{type: refusal}]\n"
        f"budget: {{max_attempts: {args.attempts}}}\nconcurrency: {args.concurrency}\n",
        encoding="utf-8",
    )
    prepared = Campaign(load_campaign(campaign), work)
    waited = 0.0
    generate = prepared.target.generate

    def timed(requests: Any) -> Any:
        nonlocal waited
        started = time.perf_counter()
        try:
            return generate(requests)
        finally:
            waited += time.perf_counter() - started

    prepared.target.generate = timed  # type: ignore[method-assign]
    with open_store(str(work / "runs.db")) as store:
        started = time.perf_counter()
        outcome = prepared.run(store, progress=False)
        wall = time.perf_counter() - started
    server.shutdown()
    print(f"latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    print(f"{outcome.sent} attempts in {wall:.2f} s: {outcome.sent / wall:.1f} attempts/s")
    print(f"waiting on the target: {waited:.2f} s ({100 * waited / wall:.1f}% of wall time)")
    ideal = outcome.sent / args.concurrency * args.latency
    print(f"a runner with no overhead at this concurrency would take {ideal:.2f} s")


if __name__ == "__main__":
    main()
