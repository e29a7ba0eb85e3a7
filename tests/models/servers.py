"""Real HTTP servers on 127.0.0.1 for backend tests: a scripted fault server and llama.cpp.

``FaultServer`` answers like a (tiny) OpenAI-compatible server after failing as scripted,
and measures what the client did: attempts, headers, bodies, requests in flight at once.
The llama.cpp helpers turn a Hugging Face checkpoint into a GGUF with the converter shipped
in the llama-cpp-python sdist, and run ``python -m llama_cpp.server`` on it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

LLAMA_CPP_VERSION = "0.3.36"


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- fault injection ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One scripted answer: an error ``status`` (with ``headers`` and an OpenAI-style
    error ``message``), or, with ``status=200``, the proper answer after ``sleep`` seconds."""

    status: int = 200
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


class FaultServer:
    """A threaded loopback server: the first requests get ``faults`` in order, later ones a
    proper answer after ``delay`` seconds: ``respond(path, body)``'s, which may also be a
    ``Fault`` to send instead (a scripted server's failure mid-run).

    Proper answers are deterministic: an echoed ``/completions`` call scores every prompt
    character as one token with log-probability -1 (greedy), after a leading ``<s>`` entry
    without one, the way vLLM echoes BOS; other calls answer ``"ok"``-style text.
    """

    def __init__(
        self,
        faults: Sequence[Fault] = (),
        delay: float = 0.0,
        respond: Callable[[str, dict[str, Any]], dict[str, Any] | Fault] | None = None,
    ) -> None:
        self.faults = list(faults)
        self.delay = delay
        self.respond = respond or answer
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        # A short poll interval: shutdown() waits up to one interval for the serve loop.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def attempts(self) -> int:
        return len(self.seen)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def next_fault(self, seen: Seen) -> Fault:
        with self._lock:
            self.seen.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.faults.pop(0) if self.faults else Fault(sleep=self.delay)

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1


def answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The proper answer to ``body`` (see ``FaultServer``)."""
    if path.endswith("/chat/completions"):
        content = f"ok: {body['messages'][-1]['content']}"
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content}}
        choice["finish_reason"] = "stop"
        return {"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    prompt = str(body["prompt"])
    if not body.get("echo"):
        choices = [
            {"index": i, "text": f"ok: {prompt}", "finish_reason": "stop"}
            for i in range(int(body.get("n") or 1))
        ]
        return {"choices": choices, "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    chars = list(prompt)
    logprobs = {
        "tokens": ["<s>", *chars, "!"],
        "text_offset": [0, *(3 + i for i in range(len(chars) + 1))],
        "token_logprobs": [None, *([-1.0] * len(chars)), -0.5],
        "top_logprobs": [None, *({c: -1.0} for c in chars), {"!": -0.5}],
    }
    choice = {"index": 0, "text": prompt + "!", "logprobs": logprobs, "finish_reason": "length"}
    usage = {"prompt_tokens": len(chars) + 1, "completion_tokens": 1}
    return {"choices": [choice], "usage": usage}


def _handler_for(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            seen = Seen(self.path, dict(self.headers.items()), body, time.monotonic())
            fault = server.next_fault(seen)
            try:
                time.sleep(fault.sleep if fault.status == 200 else 0.0)
                reply = server.respond(self.path, body) if fault.status == 200 else fault
                if isinstance(reply, Fault):
                    error = {"error": {"message": reply.message, "type": "scripted"}}
                    self._send(reply.status, error, reply.headers)
                    return
                self._send(200, reply, {})
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer
            finally:
                server.done()

        def _send(self, status: int, payload: object, headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


# -- llama.cpp -----------------------------------------------------------------------------


def tests_cache_dir() -> Path:
    """``$HAECHI_TEST_CACHE``, else ``~/.cache/haechi-tests``: downloads kept across runs."""
    return Path(os.environ.get("HAECHI_TEST_CACHE") or Path.home() / ".cache" / "haechi-tests")


def llama_cpp_sdist() -> Path:
    """The llama-cpp-python sdist: ``$HAECHI_LLAMA_CPP_SDIST``, the test cache, or pip."""
    if explicit := os.environ.get("HAECHI_LLAMA_CPP_SDIST"):
        return Path(explicit)
    cache = tests_cache_dir()
    name = f"llama_cpp_python-{LLAMA_CPP_VERSION}.tar.gz"
    if (cache / name).exists():
        return cache / name
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         f"llama-cpp-python=={LLAMA_CPP_VERSION}", "-d", str(cache)],
        check=True,
    )  # fmt: skip
    return cache / name


def extract_converter(sdist: Path) -> Path:
    """Unpack ``convert_hf_to_gguf.py`` with ``conversion/`` and ``gguf-py/`` (once, into the
    test cache) and return the script's path."""
    target = tests_cache_dir() / f"llama-cpp-converter-{LLAMA_CPP_VERSION}"
    script = target / "convert_hf_to_gguf.py"
    if script.exists():
        return script
    prefix = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"
    wanted = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent))
    with tarfile.open(sdist) as archive:
        members = []
        for member in archive.getmembers():
            relative = member.name.removeprefix(prefix)
            if relative != member.name and relative.startswith(wanted):
                member.name = relative
                members.append(member)
        if not members:
            raise RuntimeError(f"{sdist} has no {prefix}convert_hf_to_gguf.py")
        archive.extractall(staging, members=members, filter="data")
    # Rename into place so an interrupted run never leaves a half-extracted converter.
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another run won the race
    return script


def vocab_gguf(sdist: Path, name: str) -> Path:
    """Unpack llama.cpp's ``models/ggml-vocab-<name>.gguf`` (a real tokenizer, with its
    chat template, and no weights) into the test cache, once."""
    target = tests_cache_dir() / f"llama-cpp-vocab-{LLAMA_CPP_VERSION}" / f"ggml-vocab-{name}.gguf"
    if target.exists():
        return target
    member = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/models/{target.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as archive:
        source = archive.extractfile(member)
        if source is None:
            raise RuntimeError(f"{sdist} has no {member}")
        staging = target.with_suffix(f".{os.getpid()}.partial")
        staging.write_bytes(source.read())
    staging.replace(target)
    return target


def vocab_tokenizer(name: str) -> Path:
    """The tokenizer of ``ggml-vocab-<name>.gguf`` saved in Hugging Face layout in the test
    cache (reading the GGUF takes the gguf package half a minute; the folder loads fast)."""
    target = tests_cache_dir() / f"llama-cpp-vocab-{LLAMA_CPP_VERSION}" / f"{name}-tokenizer"
    if (target / "tokenizer_config.json").exists():
        return target
    from transformers import AutoTokenizer

    gguf = vocab_gguf(llama_cpp_sdist(), name)
    staging = Path(tempfile.mkdtemp(dir=target.parent))
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(staging)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another run won the race
    return target


def convert_to_gguf(converter: Path, checkpoint: Path, out: Path) -> Path:
    """Convert a Hugging Face checkpoint to an f32 GGUF (no rounding: results must match
    torch in float32)."""
    result = subprocess.run(
        [sys.executable, str(converter), str(checkpoint), "--outtype", "f32", "--outfile",
         str(out)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"GGUF conversion failed:\n{result.stderr[-3000:]}")
    return out


@contextmanager
def llama_server(gguf: Path, log: Path, *, start_timeout: float = 120.0) -> Iterator[str]:
    """Run llama-cpp-python's OpenAI-compatible server on ``gguf``; yield its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
        "--host", "127.0.0.1", "--port", str(port),
        "--logits_all", "true",  # echo with logprobs needs logits at every position
        "--n_ctx", "512", "--seed", "0", "--verbose", "false",
        # An f32 KV cache (ggml type 0) instead of the default f16: keys and values rounded
        # to f16 move log-likelihoods by ~1e-4 per token, f32 keeps them within ~1e-6 of torch.
        "--type_k", "0", "--type_v", "0",
    ]  # fmt: skip
    with openai_server(command, port, log, "llama.cpp server", start_timeout) as url:
        yield url


@contextmanager
def openai_server(
    command: Sequence[str], port: int, log: Path, name: str, start_timeout: float
) -> Iterator[str]:
    """Run an OpenAI-compatible server ``command`` (listening on ``port``) in its own process
    group, its output in ``log``; yield its base URL once ``/models`` answers, and stop the
    whole group afterwards (engines such as vLLM's spawn workers of their own)."""
    url = f"http://127.0.0.1:{port}/v1"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            list(command), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_until_up(process, url, log, name, start_timeout)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def _wait_until_up(
    process: subprocess.Popen[bytes], url: str, log: Path, name: str, limit: float
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} not up after {limit} s:\n{log.read_text()[-3000:]}")
