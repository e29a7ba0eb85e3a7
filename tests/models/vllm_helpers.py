"""What the vLLM tests share: the skip rule, a tiny checkpoint vLLM's CPU attention takes,
engine arguments that start fast, the process scan, and ``vllm serve`` on loopback.

vLLM lives in its own virtual environment (``.ci/vllm_venv.sh``): without it these tests
skip, unless ``HAECHI_REQUIRE_VLLM=1`` (CI's vLLM step), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.models.servers import free_port, openai_server

# eager (no torch.compile), a KV cache of fixed size (vLLM's CPU default reserves 90 % of
# the memory node) and 32-token blocks, so the tiny prompts here share whole blocks
ENGINE_ARGS: dict[str, object] = {
    "dtype": "float32",
    "enforce_eager": True,
    "kv_cache_memory_bytes": 256 << 20,
    "block_size": 32,
}
MARKER = "HAECHI_TEST_PROCESS_MARK"


def require_vllm() -> None:
    """Skip (or, with ``HAECHI_REQUIRE_VLLM=1``, fail) where vLLM is not installed."""
    if importlib.util.find_spec("vllm") is not None:
        return
    reason = "vLLM is not installed here (CI builds its venv with .ci/vllm_venv.sh)"
    if os.environ.get("HAECHI_REQUIRE_VLLM") == "1":
        pytest.fail(f"HAECHI_REQUIRE_VLLM=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def build_head32_llama(root: Path) -> Path:
    """The tiny random Llama with 2 heads of 32 dimensions (vLLM's CPU attention takes head
    sizes 32, 64, 80, ... only; the default tiny model has 16)."""
    from haechi.models.smoke import build_tiny_model

    return build_tiny_model(root / "tiny-llama-h32", hidden_size=64, num_heads=2, num_kv_heads=2)


def marked_processes(mark: str) -> list[str]:
    """``pid name`` of every live process whose environment holds ``MARKER=mark``: the
    command and every process it started, wherever they were re-parented."""
    needle = f"{MARKER}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(f"{entry.name} {(entry / 'comm').read_text().strip()}")
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def wait_until_gone(mark: str, limit: float = 15.0) -> list[str]:
    """The marked processes still alive after up to ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while (alive := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return alive


@contextmanager
def vllm_server(model_dir: Path, log: Path, *, start_timeout: float = 300.0) -> Iterator[str]:
    """Run vLLM's OpenAI-compatible server on ``model_dir``; yield its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
        "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--enforce-eager", "--kv-cache-memory-bytes", str(256 << 20),
        "--block-size", "32", "--max-logprobs", "20", "--seed", "0",
    ]  # fmt: skip
    with openai_server(command, port, log, "vLLM server", start_timeout) as url:
        yield url
