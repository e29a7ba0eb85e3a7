"""Tokens vLLM computes for log-likelihood tasks against the unique-prefix floor.

    python benchmarks/vllm_prefix_cache.py [--block-size 32 128] [--tasks ko_arc,kobest_copa]

On the tiny head-32 random Llama and the bundled samples: per block size, the tokens vLLM
computed (prompt tokens less its ``num_cached_tokens``, re-sent prompts included), its
prefix-cache hits, the
floor and the naive count, next to the hf backend on the same requests. Needs vLLM
(``.ci/vllm_venv.sh --install``, then run it with ``.venv-vllm/bin/python``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from haechi.evaluate import EvalConfig
from haechi.evaluate.plan import plan_task
from haechi.evaluate.scoring import requests_for
from haechi.models import load
from haechi.models.smoke import build_tiny_model
from haechi.tasks import resolve
from haechi.tasks.documents import DocumentSource


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--block-size", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--tasks", default="ko_arc,kobest_copa,kobest_hellaswag")
    options = parser.parse_args()
    config = EvalConfig(tasks=options.tasks.split(","), samples=True)
    specs, _ = resolve(config.tasks)
    source = DocumentSource.choose(None, True)
    requests = [r for s in specs for p in plan_task(s, config, source) for r in requests_for(p)]
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = build_tiny_model(
            Path(tmp) / "tiny", hidden_size=64, num_heads=2, num_kv_heads=2
        )
        hf = load(f"hf/{checkpoint}", dtype="float32")
        started = time.perf_counter()
        hf.loglikelihood(requests)
        print(f"{len(requests)} requests; hf: forwarded {hf.stats.forwarded_tokens}, floor "
              f"{hf.stats.floor_tokens}, naive {hf.stats.naive_tokens}, "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        for block in options.block_size:
            args = {"dtype": "float32", "enforce_eager": True, "block_size": block,
                    "kv_cache_memory_bytes": 256 << 20}  # fmt: skip
            with load(f"vllm/{checkpoint}", **args) as model:
                started = time.perf_counter()
                model.loglikelihood(requests)
                seconds = time.perf_counter() - started
                stats = model.stats
                print(f"vllm block {block}: computed {stats.forwarded_tokens} "
                      f"({stats.forwarded_tokens / stats.floor_tokens:.2f}x floor), cache hits "
                      f"{stats.cached_tokens}, floor {stats.floor_tokens}, naive "
                      f"{stats.naive_tokens}, {seconds:.1f} s")  # fmt: skip


if __name__ == "__main__":  # vLLM spawns its engine: the module must be importable
    main()
