"""Peak memory of depth up-scaling against the checkpoint's size and its largest tensor.

Not a test: a measurement. Builds a random Llama checkpoint of a few hundred MB (sharded
safetensors, as transformers saves it), then up-scales it in a fresh Python process and
reports that process's peak resident set (``resource.getrusage``, ``ru_maxrss``) after
its imports, after planning (config and headers only), and at the end: the growth past
planning is what copying the tensors costs. With ``--naive`` it also measures the obvious alternative, loading
every base tensor into one state dict and saving it, for contrast.

    python benchmarks/upscale_memory.py                 # hidden 1024, 24 layers, bf16
    python benchmarks/upscale_memory.py --naive --keep /tmp/upscale-bench
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

# Runs in a fresh interpreter: imports first (their memory is the baseline), then the work.
_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    import torch, safetensors.torch, transformers  # noqa: F401  (baseline includes them)
    from haechi.build import depth_upscale, plan_upscale

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    src, out, remove, mode = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    imported = peak()
    plan_upscale(src, remove)  # headers and config only: transformers' config code loads
    planned = peak()
    started = time.perf_counter()
    if mode == "haechi":
        depth_upscale(src, out, remove, shard_size="2GB")
    else:
        from safetensors.torch import load_file, save_file
        base = {}
        for shard in sorted(src.glob("*.safetensors")):
            base.update(load_file(shard))
        n = json.loads((src / "config.json").read_text())["num_hidden_layers"]
        order = list(range(n - remove)) + list(range(remove, n))
        state = {k: v for k, v in base.items() if ".layers." not in k}
        for j, i in enumerate(order):
            prefix = f"model.layers.{i}."
            state.update({f"model.layers.{j}." + k[len(prefix):]: v.clone() if j >= n - remove else v
                          for k, v in base.items() if k.startswith(prefix)})
        out.mkdir(parents=True)
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    print(json.dumps({"imported": imported, "planned": planned, "peak": peak(),
                      "seconds": time.perf_counter() - started}))
    """
)


def build_base(path: Path, args: argparse.Namespace) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(getattr(torch, args.dtype))
    model.save_pretrained(path, max_shard_size=args.input_shard)


def tensor_sizes(path: Path) -> tuple[int, int]:
    """(total bytes, largest tensor bytes) of a checkpoint folder, from its headers."""
    from haechi.build.checkpoint_io import read_checkpoint

    tensors = read_checkpoint(path).tensors.values()
    return sum(t.nbytes for t in tensors), max(t.nbytes for t in tensors)


def measure(src: Path, out: Path, remove: int, mode: str) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(src), str(out), str(remove), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=2816)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--remove", type=int, default=8)
    parser.add_argument("--input-shard", default="200MB", help="shard size of the base")
    parser.add_argument("--naive", action="store_true", help="also measure load-all-then-save")
    parser.add_argument("--keep", type=Path, help="build and keep the files here")
    parser.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build_base(args.build_only, args)
        return

    root = args.keep or Path(tempfile.mkdtemp(prefix="upscale-bench-"))
    src = root / "base"
    try:
        if not (src / "config.json").exists():
            # In its own process: a child's ru_maxrss starts from its parent's RSS at fork,
            # so this process must stay small for the measurement to mean anything.
            builder = [sys.executable, __file__, "--build-only", str(src), *sys.argv[1:]]
            subprocess.run(builder, check=True, stderr=subprocess.DEVNULL)
        base_bytes, largest = tensor_sizes(src)
        mib = 2**20
        print(f"base: {base_bytes / mib:.0f} MiB in {len(list(src.glob('*.safetensors')))} "
              f"shards, largest tensor {largest / mib:.1f} MiB")  # fmt: skip
        modes = ["haechi", "naive"] if args.naive else ["haechi"]
        for mode in modes:
            out = root / f"out-{mode}"
            shutil.rmtree(out, ignore_errors=True)
            got = measure(src, out, args.remove, mode)
            out_bytes = tensor_sizes(out)[0]
            grew = got["peak"] - got["planned"]
            print(
                f"{mode}: output {out_bytes / mib:.0f} MiB in {got['seconds']:.1f} s; "
                f"peak RSS {got['peak'] / mib:.0f} MiB (after imports {got['imported'] / mib:.0f}, "
                f"after planning {got['planned'] / mib:.0f}); growth while copying tensors "
                f"{grew / mib:.0f} MiB = {grew / largest:.2f}× the largest tensor, "
                f"{grew / base_bytes:.2f}× the base"
            )
            shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
