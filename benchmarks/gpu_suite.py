"""haechi vs lm-evaluation-harness's HF backend on one GPU: ARC-25, HellaSwag-10, MMLU-5.

Not a test: a measurement, sized for one H100/H200 in under 8 minutes. A random-weight
model of Llama 3.2 1B's shape (1.24B parameters, vocabulary 128,256, bf16) is built on the
GPU; both tools score the same synthetic documents (``eval_vs_lmeval.synthetic_data``, in
the Hub schemas) one after the other in this process, each through its own loader, at the
same batch size. Per task: wall seconds, tokens through the input embedding (padding
included, a forward hook), the unique-prefix floor, tokens/s, and how far each tool is from
the FLOP floor (2 x parameters x floor tokens / peak bf16 FLOP/s, the least time any
engine needs). Then ``haechi build memory``'s training-memory estimate against the peak
measured over three real training steps (``haechi.build.memory_measure``).

    python benchmarks/gpu_suite.py                      # one GPU (H100/H200), bf16
    python benchmarks/gpu_suite.py --docs 400 --json gpu.json
    python benchmarks/gpu_suite.py --tiny               # CPU, a tiny model, a few documents (CI)

The tokenizer is the tiny SentencePiece one haechi trains on its bundled corpus (no
download): it splits text into more tokens than Llama 3's would, so prompts are longer,
which is what the timing is about anyway; the scores of a random model mean nothing, only
their agreement does.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from eval_vs_lmeval import run_haechi, run_lm_eval, synthetic_data
from memory_estimate_vs_measured import make_config, mib

from haechi.build.memory_measure import measure
from haechi.models.smoke import build_tiny_model, build_tokenizer

SUITE = (("arc_challenge", 25), ("hellaswag", 10), ("mmlu", 5))
# Dense bf16 tensor-core peak FLOP/s (SXM parts, no sparsity), by device-name fragment.
PEAK_BF16 = {"H200": 989e12, "H100 PCIe": 756e12, "H100": 989e12, "A100": 312e12}


def build_model(root: Path, tiny: bool, device: str) -> Path:
    """The model folder: Llama 3.2 1B's shape with random weights, or (``tiny``) a 2-layer one."""
    if tiny:
        return build_tiny_model(root, max_positions=4096)
    from transformers import AutoTokenizer, LlamaForCausalLM

    build_tokenizer(root, "sentencepiece")
    tok = AutoTokenizer.from_pretrained(root)
    config = make_config("llama-1.2B")
    config.update(dict(max_position_embeddings=8192, rope_theta=500000.0,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))  # fmt: skip
    torch.manual_seed(0)
    with torch.device(device):  # initialising 1.2B weights on a CPU takes minutes
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(root)
    del model
    return root


def peak_flops(device: str, override: float | None) -> float | None:
    """Peak bf16 FLOP/s of ``device``: ``override`` (TFLOP/s) or the table, else unknown."""
    if override:
        return override * 1e12
    if device != "cuda":
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def memory_check(tiny: bool, device: str) -> dict[str, Any]:
    """``build memory``'s estimate for a training step against its measured peak."""
    name, batch, seq, precision = ("llama-26M", 2, 128, "fp32") if tiny else (
        "llama-1.2B", 4, 2048, "bf16-mixed")  # fmt: skip
    result = measure(make_config(name), batch_size=batch, seq_len=seq, device=device,
                     steps=2 if tiny else 3, precision=precision, optimizer="adamw")  # fmt: skip
    return {"model": name, "batch_size": batch, "seq_len": seq, "precision": precision,
            "estimate_bytes": result.estimated_bytes, "measured_bytes": result.peak_bytes,
            "relative_error": result.relative_error, "method": result.method}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="CPU, tiny model, few documents")
    parser.add_argument("--docs", type=int, help="documents per task (default 200; --tiny 6)")
    parser.add_argument("--batch-size", type=int, help="rows per batch (default 16; --tiny 4)")
    parser.add_argument("--peak-tflops", type=float, help="peak bf16 TFLOP/s, if not in the table")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    args.device = "cpu" if args.tiny else "cuda"
    args.dtype = "float32" if args.tiny else "bfloat16"
    args.docs = args.docs or (6 if args.tiny else 200)
    args.batch_size = args.batch_size or (4 if args.tiny else 16)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device: run on a GPU, or pass --tiny for the CPU check")
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="haechi-gpu-suite-"))
    model_dir = build_model(work / "model", args.tiny, args.device)
    synthetic_data(work / "data", args.docs)
    params = parameters(model_dir)
    peak = peak_flops(args.device, args.peak_tflops)
    where = torch.cuda.get_device_name() if args.device == "cuda" else platform.machine()
    print(f"{where}, {args.dtype}, {params / 1e9:.3f}B parameters, {args.docs} docs per task, "
          f"batch size {args.batch_size}, torch {torch.__version__}")  # fmt: skip
    rows = []
    for task, shots in SUITE:
        theirs = run_lm_eval(model_dir, work / "data", task, shots, args)
        ours = run_haechi(model_dir, work / "data", task, shots, args)
        floor_s = 2 * params * ours["floor"] / peak if peak else None
        worst = max(abs(a - b) for la, lb in zip(theirs["lls"], ours["lls"], strict=True)
                    for a, b in zip(la, lb, strict=True))  # fmt: skip
        rows.append({"task": task, "shots": shots, "floor_tokens": ours["floor"],
                     "floor_seconds": floor_s, "max_abs_ll_diff": worst,
                     "same_acc": theirs["acc"] == ours["acc"] and theirs["acc_norm"] == ours["acc_norm"],
                     **{f"{tool}_{k}": r[k] for tool, r in (("lm_eval", theirs), ("haechi", ours))
                        for k in ("seconds", "tokens")}})  # fmt: skip
    print(
        "\n| task | shots | floor tokens | FLOP floor s | lm-eval s | haechi s | lm-eval tokens "
        "| haechi tokens | lm-eval tok/s | haechi tok/s | haechi / floor s | max abs Δll | acc |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fl = r["floor_seconds"]
        print(f"| {r['task']} | {r['shots']} | {r['floor_tokens']:,} "
              f"| {'n/a' if fl is None else f'{fl:.2f}'} | {r['lm_eval_seconds']:.1f} "
              f"| {r['haechi_seconds']:.1f} | {r['lm_eval_tokens']:,} | {r['haechi_tokens']:,} "
              f"| {r['lm_eval_tokens'] / r['lm_eval_seconds']:,.0f} "
              f"| {r['haechi_tokens'] / r['haechi_seconds']:,.0f} "
              f"| {'n/a' if fl is None else format(r['haechi_seconds'] / fl, '.1f') + 'x'} "
              f"| {r['max_abs_ll_diff']:.1e} | {'same' if r['same_acc'] else 'DIFFER'} |")  # fmt: skip
    memory = memory_check(args.tiny, args.device)
    print(f"\nbuild memory estimate, {memory['model']} {memory['precision']} AdamW, "
          f"{memory['batch_size']} x {memory['seq_len']}: estimate {mib(memory['estimate_bytes'])} "
          f"MiB, measured {mib(memory['measured_bytes'])} MiB ({memory['relative_error']:+.1%}, "
          f"{memory['method']})")  # fmt: skip
    total = time.perf_counter() - started
    print(f"whole suite {total:.0f} s")
    if args.json:
        document = {"device": where, "parameters": params, "args": vars(args) | {"json": None},
                    "rows": rows, "memory": memory, "seconds": total}  # fmt: skip
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


def parameters(model_dir: Path) -> int:
    """The model's distinct parameters (a tied head counts once), built on the meta device."""
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir))
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    main()
