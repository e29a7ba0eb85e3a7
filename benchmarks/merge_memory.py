"""Peak memory of merging against the checkpoints' size and their largest tensor.

Not a test: a measurement. Builds three random Llama checkpoints (seeds 0, 1, 2; sharded
safetensors as transformers saves them), then runs each merge method in a fresh Python
process and reports the growth of its peak resident set (``ru_maxrss``) past planning: what
merging the tensors costs, next to the plan's estimate (``MergePlan.working_bytes``). With
``--mergekit PYTHON`` it runs mergekit 0.1.5 (in its own venv) on the ``mergekit.yaml``
haechi wrote, in the same run, and reports that process's peak.

    python benchmarks/merge_memory.py --mergekit /work/venv-mergekit/bin/python
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import yaml

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    import torch, safetensors.torch  # noqa: F401  (baseline includes them)
    from haechi.build.merge import merge_checkpoints, plan_merge
    from haechi.build.merge_config import load_merge_config

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    config = load_merge_config(Path(sys.argv[1]))
    plan = plan_merge(config)
    planned = peak()
    started = time.perf_counter()
    merge_checkpoints(config, Path(sys.argv[2]))
    print(json.dumps({"planned": planned, "peak": peak(), "estimate": plan.working_bytes,
                      "largest": plan.largest_tensor_bytes, "seconds": time.perf_counter() - started}))
    """
)
# Measures one mergekit run from a small parent: the child's own peak resident set.
_PEER = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    started = time.perf_counter()
    subprocess.run(sys.argv[1:], check=True, capture_output=True)
    print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
                      "seconds": time.perf_counter() - started}))
    """
)


def build(path: Path, seed: int, args: argparse.Namespace) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
        num_hidden_layers=args.layers, num_attention_heads=16, num_key_value_heads=4,
    )  # fmt: skip
    torch.manual_seed(seed)
    LlamaForCausalLM(config).to(getattr(torch, args.dtype)).save_pretrained(
        path, max_shard_size="200MB"
    )


def recipe(method: str, root: Path) -> dict[str, Any]:
    pair = [{"model": str(root / "m1"), "parameters": {"weight": 0.5, "density": 0.5}},
            {"model": str(root / "m2"), "parameters": {"weight": 0.5, "density": 0.5}}]  # fmt: skip
    if method == "linear":
        return {"models": [{"model": m["model"], "parameters": {"weight": 0.5}} for m in pair],
                "merge_method": "linear"}  # fmt: skip
    if method == "slerp":
        return {"models": [{"model": str(root / "m1")}], "merge_method": "slerp",
                "base_model": str(root / "m0"), "parameters": {"t": 0.5}}  # fmt: skip
    return {"models": pair, "merge_method": method, "base_model": str(root / "m0")}


def json_line(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=2816)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--methods", default="linear,slerp,ties,dare_ties")
    parser.add_argument("--mergekit", help="an interpreter with mergekit 0.1.5 (the peer)")
    parser.add_argument("--keep", type=Path, help="build and keep the files here")
    parser.add_argument("--build-only", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build(Path(args.build_only[0]), int(args.build_only[1]), args)
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="merge-bench-"))
    mib = 2**20
    try:
        for seed in range(3):
            if not (root / f"m{seed}" / "config.json").exists():
                # its own process: a child's ru_maxrss starts from its parent's RSS at fork
                subprocess.run([sys.executable, __file__, "--build-only", str(root / f"m{seed}"),
                                str(seed), *sys.argv[1:]], check=True, stderr=subprocess.DEVNULL)  # fmt: skip
        from haechi.build.checkpoint_io import read_checkpoint

        sizes = [t.nbytes for t in read_checkpoint(root / "m0").tensors.values()]
        print(f"each model: {sum(sizes) / mib:.0f} MiB {args.dtype}, largest tensor "
              f"{max(sizes) / mib:.1f} MiB")  # fmt: skip
        for method in args.methods.split(","):
            config, out = root / f"{method}.yaml", root / f"out-{method}"
            config.write_text(yaml.safe_dump(recipe(method, root)), encoding="utf-8")
            shutil.rmtree(out, ignore_errors=True)
            run = subprocess.run([sys.executable, "-c", _CHILD, str(config), str(out)],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            got = json_line(run)
            grew = got["peak"] - got["planned"]
            line = (f"{method}: {got['seconds']:.1f} s; peak RSS {got['peak'] / mib:.0f} MiB, "
                    f"growth {grew / mib:.0f} MiB = {grew / got['largest']:.2f}× the largest "
                    f"tensor (estimate {got['estimate'] / mib:.0f} MiB)")  # fmt: skip
            if args.mergekit:
                theirs = root / f"mergekit-{method}"
                shutil.rmtree(theirs, ignore_errors=True)
                peer = json_line(subprocess.run(
                    [sys.executable, "-c", _PEER, args.mergekit, "-m", "mergekit.scripts.run_yaml",
                     str(out / "mergekit.yaml"), str(theirs), "--no-copy-tokenizer"],
                    capture_output=True, text=True, check=True,
                ))  # fmt: skip
                line += f"; mergekit {peer['seconds']:.1f} s, peak RSS {peer['peak'] / mib:.0f} MiB"
                shutil.rmtree(theirs, ignore_errors=True)
            print(line, flush=True)
            shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
