"""SOLAR's recipe end to end on a smoke model, in haechi's own commands: up-scale → heal
(continued pre-training) → SFT → DPO from arena votes → merge → ``haechi eval`` and
``haechi redteam diff`` against the base.

Every step is the CLI a user would type (printed before it runs), in one working folder
and one SQLite store, so the output is a script to copy as much as a result. Arena votes
come from a scripted voter standing in for people in ``haechi serve``: of two answers it
prefers the one with more Hangul among its letters (ties when equal), a rule a tiny random
model can learn in a few DPO steps. The numbers of a random smoke model mean nothing about
Korean; they show each step's output feeding the next.

    python benchmarks/pipeline_example.py [--tiny] [--work DIR] [--json summary.json]

``--tiny`` (what CI runs) uses a 2-layer model and a handful of steps per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haechi.build.tokens import is_hangul_syllable
from haechi.judge.items import write_jsonl
from haechi.models.smoke import build_tiny_model, corpus_lines
from haechi.review.accounts import add_user, list_users
from haechi.review.campaigns import add_members
from haechi.review.labels import submit_label, view_item
from haechi.review.queue import next_item
from haechi.store import open_store


@dataclass(frozen=True)
class Size:
    """How big the model is and how long each stage trains."""

    hidden: int
    layers: int
    remove: int
    heal_steps: int
    sft_steps: int
    dpo_steps: int
    prompts: int
    attempts: int


SIZES = {
    "tiny": Size(hidden=64, layers=4, remove=1, heal_steps=4, sft_steps=8, dpo_steps=4,
                 prompts=8, attempts=6),
    "small": Size(hidden=128, layers=6, remove=2, heal_steps=40, sft_steps=40, dpo_steps=30,
                  prompts=40, attempts=40),
}  # fmt: skip


class Pipeline:
    """Runs ``haechi`` commands in ``work`` against one store, printing each."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.db = f"sqlite:///{work / 'haechi.db'}"
        self.commands: list[str] = []
        self.seconds: list[float] = []

    def haechi(self, *args: str | Path | float) -> str:
        words = [str(a) for a in args]
        line = "haechi " + shlex.join(words)
        print(f"\n$ {line}", flush=True)
        self.commands.append(line)
        env = {**os.environ, "HAECHI_DB": self.db, "COLUMNS": "160", "NO_COLOR": "1"}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "haechi", *words],
            cwd=self.work, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        self.seconds.append(round(time.perf_counter() - started, 1))
        print(done.stdout[-4000:], end="", flush=True)
        if done.returncode != 0:
            raise SystemExit(f"step failed ({done.returncode}): {line}\n{done.stderr[-4000:]}")
        return done.stdout

    def train(self, output: str, *args: str | Path | float) -> dict[str, Any]:
        """``haechi build train ... -o output``, and the report it writes there."""
        self.haechi(*args, "-o", output)
        report = (self.work / output / "train_report.json").read_text(encoding="utf-8")
        return dict(json.loads(report))


def hangul_share(text: str) -> float:
    """Hangul syllables among the letters of ``text`` (0 with no letters)."""
    letters = [c for c in text if c.isalpha()]
    return sum(map(is_hangul_syllable, letters)) / len(letters) if letters else 0.0


def corpus_and_instructions(work: Path, prompts: int) -> tuple[Path, Path, Path]:
    """Raw text for healing, prompt/response pairs for SFT (finish a sentence) and arena
    prompts, all from the smoke corpus haechi ships."""
    lines = corpus_lines()
    corpus = work / "corpus.txt"
    corpus.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    halves = [(line[: len(line) // 2], line[len(line) // 2 :]) for line in lines]
    sft, arena = work / "sft.jsonl", work / "arena_prompts.jsonl"
    write_jsonl(
        sft,
        [{"prompt": f"다음 문장을 이어 쓰세요: {head}", "response": tail} for head, tail in halves],
    )
    write_jsonl(
        arena,
        [
            {"id": f"p{i:02d}", "prompt": f"다음 문장을 이어 쓰세요: {head}", "category": "writing"}
            for i, (head, _) in enumerate(halves[:prompts])
        ],
    )
    return corpus, sft, arena


def cast_votes(db: str, campaign: str) -> dict[str, int]:
    """The scripted voter: A, B or a tie by Hangul share, through the review queue."""
    counts = {"a": 0, "b": 0, "tie": 0}
    with open_store(db) as store:
        add_user(store, "voter", "reviewer", "a long scripted password")
        add_members(store, campaign, ["voter"])
        voter = next(a for a in list_users(store) if a.username == "voter")
        while (item := next_item(store, campaign, voter)) is not None:
            answers = view_item(store, campaign, item, voter).chain["arena"]
            a, b = hangul_share(answers["a"]), hangul_share(answers["b"])
            vote = "a" if a > b else "b" if b > a else "tie"
            counts[vote] += 1
            submit_label(store, campaign, item, voter, {"vote": vote})
    return counts


def campaign_yaml(work: Path, name: str, model: Path, attempts: int) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(
        f"name: {name}\n"
        f"target: {{model: hf/{model}, max_new_tokens: 16}}\n"
        "seeds: [{source: bundled}]\n"
        "controls: [{source: controls, limit: 8}]\n"
        "generators: [{type: direct}]\n"
        "converters: [[]]\n"
        "detectors: [{type: refusal}]\n"
        f"budget: {{max_attempts: {attempts}}}\n"
        "concurrency: 4\n",
        encoding="utf-8",
    )
    return path


def score(report_dir: Path, task: str) -> float:
    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    return float(results["results"][task]["acc,none"])


def run(size: Size, work: Path) -> dict[str, Any]:
    p = Pipeline(work)
    corpus, sft_data, arena_prompts = corpus_and_instructions(work, size.prompts)
    base = build_tiny_model(
        work / "base", hidden_size=size.hidden, num_layers=size.layers,
        intermediate_size=size.hidden * 3, num_heads=4,
    )  # fmt: skip
    train: tuple[str, ...] = (
        "build", "train", "--method", "full", "--device", "cpu", "--logging-steps", 1,
    )  # fmt: skip
    p.haechi("build", "upscale", "--model", base, "--remove", size.remove, "--out", "dus")
    heal = p.train(
        "heal", *train, "-m", "dus", "--data", corpus, "--objective", "causal-lm", "--packing",
        "--max-length", 128, "--eval-fraction", 0.2, "--batch-size", 4, "--lr", 1e-3,
        "--max-steps", size.heal_steps,
    )  # fmt: skip
    sft = p.train(
        "sft", *train, "-m", "heal/model", "--data", sft_data, "--max-length", 128, "--batch-size", 4,
        "--lr", 1e-3,
        "--max-steps", size.sft_steps,
    )  # fmt: skip
    for name, model in (("heal", "heal/model"), ("sft", "sft/model")):
        p.haechi("generate", "-m", f"hf/{work / model}", "--prompts", arena_prompts,
                 "-o", f"answers-{name}.jsonl", "--max-new-tokens", 16, "--temperature", 1.0,
                 "--seed", 1)  # fmt: skip
    p.haechi(
        "arena", "pairs", "answers-sft.jsonl", "answers-heal.jsonl", "--campaign", "sft-vs-heal"
    )
    votes = cast_votes(p.db, "sft-vs-heal")
    p.haechi("review", "export", "sft-vs-heal", "-o", "votes.jsonl")
    dpo = p.train(
        "dpo", *train, "-m", "sft/model", "--objective", "dpo", "--data-format", "arena",
        "--data", "votes.jsonl", "--max-length", 128, "--batch-size", 2, "--lr", 5e-4,
        "--max-steps", size.dpo_steps,
    )  # fmt: skip
    (work / "merge.yaml").write_text(
        "models:\n  - model: sft/model\n  - model: dpo/model\n"
        "merge_method: slerp\nbase_model: sft/model\nparameters: {t: 0.5}\ndtype: float32\n",
        encoding="utf-8",
    )
    p.haechi("build", "merge", "merge.yaml", "--out", "merged")
    scores = {}
    for name in ("heal", "merged"):
        model = work / name / "model" if name == "heal" else work / name
        p.haechi("eval", "--model", f"hf/{model}", "--tasks", "kobest_copa", "--samples",
                 "-o", f"eval-{name}")  # fmt: skip
        p.haechi("redteam", "run", campaign_yaml(work, f"safety-{name}", model, size.attempts))
        scores[name] = score(work / f"eval-{name}", "kobest_copa")
    p.haechi("redteam", "diff", "safety-heal", "safety-merged")
    return {
        "size": size.__dict__,
        "commands": [
            {"command": c, "seconds": t} for c, t in zip(p.commands, p.seconds, strict=True)
        ],
        "heal_perplexity": [heal["perplexity_before"]["value"], heal["perplexity_after"]["value"]],
        "sft_loss": [sft["losses"][0]["loss"], sft["losses"][-1]["loss"]],
        "votes": votes,
        "dpo_pairs": dpo["data"]["train_examples"],
        "dpo_margin": [dpo["preferences"][0]["margin"], dpo["preferences"][-1]["margin"]],
        "dpo_peak_bytes": {"measured": dpo["peak"]["bytes"], "estimated": dpo["peak"]["estimated"]},
        "kobest_copa_acc": scores,
        "attack_success": safety(p.db, ("safety-heal", "safety-merged")),
    }


def safety(db: str, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Attack-success rate and over-refusal of each campaign, as ``redteam report`` gives."""
    from haechi.redteam.report import build_report

    with open_store(db) as store:
        reports = {name: build_report(store, name) for name in names}
    return {
        name: {"asr": r.asr.value, "over_refusal": r.over_refusal.value}
        for name, r in reports.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="CI size: seconds per stage")
    parser.add_argument("--work", type=Path, help="keep the models and store here")
    parser.add_argument("--json", type=Path, help="write the summary here")
    args = parser.parse_args()
    size = SIZES["tiny" if args.tiny else "small"]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        summary = run(size, work.resolve())
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps({k: v for k, v in summary.items() if k != "commands"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")


if __name__ == "__main__":
    main()
