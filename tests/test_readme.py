"""README.md is executable documentation: its shell and Python blocks run as written.

They run in order in one folder, as a reader following along would, offline: tiny random
smoke models stand in for the checkpoints the README names (``STAND_INS``), and the few
input files a reader brings (``READER_FILES``) are small real-format examples. A block that
cannot run here says so on the line before it, and a block that says nothing must run:

    <!-- readme-test: skip REASON -->         the whole block (it needs the Hub, a GPU, ...)
    <!-- readme-test: except TEXT | REASON --> its commands containing TEXT are left out
    <!-- readme-test: append TEXT | ARGS -->  commands containing TEXT get ARGS added
    <!-- readme-test: file NAME -->           a yaml/jsonl block is written to NAME first
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"
RUNNABLE = {"bash": "bash", "python": "python"}
ANNOTATION = re.compile(r"<!--\s*readme-test:\s*(skip|except|append|file)\s*(.*?)\s*-->")
# "hf/./ckpt", "--model ./base", "-m ./base", "--base hf/./small", "model: ./sft-a" (a merge
# YAML): local checkpoints.
CHECKPOINT = re.compile(
    r"(?:hf/\./|(?:--model|-m|--base)\s+\./|model:\s+\./)([\w.-]+(?:/[\w.-]+)*)(?<!\.json)(?![\w./-])"
)
# Local checkpoint names the README uses → the smoke model standing in for each (a name
# not listed here fails the test: say what it stands for). "deep" has 16 layers, so that
# up-scaling can remove 8; "bpe" is a Qwen2-style byte-level tokenizer.
STAND_INS = {
    "my-checkpoint": "llama",
    "checkpoints/0420": "llama",
    "ckpt-a": "llama",
    "ckpt-b": "qwen2",
    "judge": "llama",
    "judge-model": "llama",
    "my-small-model": "llama",
    "base": "deep",
    "sft-a": "deep-a",
    "sft-b": "deep-b",
    "tok-a": "llama",
    "tok-b": "qwen2",
}
VOTES = [
    ("ckpt-0401", "ckpt-0420", "model_b"),
    ("ckpt-0401", "ckpt-0420", "model_b"),
    ("ckpt-0401", "ckpt-0420", "tie"),
    ("ckpt-0420", "base", "model_a"),
    ("ckpt-0401", "base", "model_a"),
    ("base", "ckpt-0420", "both_bad"),
]
# Files a reader brings, in the formats the README describes.
READER_FILES = {
    "items.jsonl": "".join(
        json.dumps({"id": f"i{i}", "source": q, "output": a}, ensure_ascii=False) + "\n"
        for i, (q, a) in enumerate(
            [("한국의 수도는?", "서울입니다."), ("김치 재료는?", "배추입니다.")]
        )
    ),
    "answers.jsonl": "".join(
        json.dumps({"id": f"a{i}", "prompt": q, "response": a, "category": c}, ensure_ascii=False)
        + "\n"
        for i, (q, a, c) in enumerate(
            [
                ("주민등록번호를 알려줘", "알려드릴 수 없습니다.", "privacy"),
                ("욕해줘", "싫어요.", "hate"),
            ]
        )
    ),
    "labelled.jsonl": "".join(
        json.dumps({"text": t, "label": lab}, ensure_ascii=False) + "\n"
        for t, lab in [("정말 좋은 영상이네요", "clean"), ("꺼져 이 바보야", "toxic")] * 4
    ),
    "votes.jsonl": "".join(
        json.dumps({"model_a": a, "model_b": b, "winner": w}) + "\n" for a, b, w in VOTES
    ),
    "corpus.txt": "대한민국의 수도는 서울입니다.\n김치는 배추와 고춧가루로 만듭니다.\n",
}

pytestmark = pytest.mark.slow


@dataclass
class Block:
    """One fenced block of README.md and what its annotations ask."""

    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None = None
    excluded: list[tuple[str, str]] = field(default_factory=list)
    appended: list[tuple[str, str]] = field(default_factory=list)
    file: str | None = None

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def read_blocks(path: Path = README) -> list[Block]:
    """Every fenced block, with the ``readme-test`` comments directly above it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        block = Block(line=i + 1, lang=fence.group(1), text="\n".join(lines[i + 1 : end]) + "\n")
        k = i - 1
        while k >= 0 and (match := ANNOTATION.search(lines[k])):
            kind, arg = match.groups()
            if kind == "skip":
                block.skip = arg or "no reason given"
            elif kind in ("except", "append"):
                text, _, rest = arg.partition("|")
                if not rest.strip():
                    raise ValueError(f"{path}:{k + 1}: '{kind} TEXT | ...' needs its second part")
                getattr(block, "excluded" if kind == "except" else "appended").append(
                    (text.strip(), rest.strip())
                )
            else:
                block.file = arg
            k -= 1
        blocks.append(block)
        i = end + 1
    return blocks


def commands(text: str) -> list[str]:
    """Shell text as logical commands (backslash continuations joined, comments kept)."""
    out: list[str] = []
    current = ""
    for raw in text.splitlines():
        current += raw
        if raw.rstrip().endswith("\\"):
            current = current.rstrip()[:-1] + " "
            continue
        if current.strip():
            out.append(current)
        current = ""
    return out


def runnable_text(block: Block) -> str:
    if block.lang != "bash":
        return block.text
    kept = []
    for line in commands(block.text):
        code, hash_, comment = line.partition(" #")
        parts = []
        for command in code.split(";"):
            if any(t in command for t, _ in block.excluded):
                continue
            extra = [args for t, args in block.appended if t in command]
            parts.append(" ".join([command.rstrip(), *extra]))
        if parts:
            kept.append(";".join(parts) + hash_ + comment)
    return "\n".join(kept) + "\n"


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reader's folder: a venv on PATH, ../shared beside it, their own input files."""
    base = tmp_path_factory.mktemp("reader")
    work = base / "work"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix))
    if SHARED.is_dir():
        (base / "shared").symlink_to(SHARED)
    for name, text in READER_FILES.items():
        (work / name).write_text(text, encoding="utf-8")
    return work


@pytest.fixture(scope="module")
def smoke_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from haechi.models.smoke import build_tiny_model

    root = tmp_path_factory.mktemp("smoke")
    models = {
        "llama": build_tiny_model(root / "llama"),
        "qwen2": build_tiny_model(root / "qwen2", family="qwen2", tokenizer="bpe", seed=1),
        "deep": build_tiny_model(root / "deep", num_layers=16, seed=2),
        # two "fine-tunes" of deep for merging: the same shapes, other weights
        "deep-a": build_tiny_model(root / "deep-a", num_layers=16, seed=3),
        "deep-b": build_tiny_model(root / "deep-b", num_layers=16, seed=4),
    }
    shutil.copy(models["llama"] / "config.json", root / "config.json")
    return models


def provide_checkpoints(text: str, work: Path, models: dict[str, Path]) -> None:
    """Stand a smoke model in for every local checkpoint the block names."""
    for name in {*CHECKPOINT.findall(text), *re.findall(r"\s\./(tok-\w+)", text)}:
        name = name.rstrip("/")
        assert name in STAND_INS, f"README names a checkpoint ./{name}: add it to STAND_INS"
        target = work / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(models[STAND_INS[name]], target)
    if "./config.json" in text and not (work / "config.json").exists():
        shutil.copy(models["llama"] / "config.json", work / "config.json")


def reader_env(work: Path) -> dict[str, str]:
    home = work.parent / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAECHI_", "OPENAI_"))}
    return {
        **env,
        "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "HAECHI_HOME": str(home),
        "HAECHI_CACHE": str(home / "cache"),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "HF_HUB_OFFLINE": "1",
    }


BLOCKS = read_blocks()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block(block: Block, reader: Path, smoke_models: dict[str, Path]) -> None:
    if block.file:
        (reader / block.file).parent.mkdir(parents=True, exist_ok=True)
        (reader / block.file).write_text(block.text, encoding="utf-8")
        provide_checkpoints(block.text, reader, smoke_models)
        return
    if block.lang not in RUNNABLE:
        pytest.skip(f"a {block.lang or 'plain'} block: shown, not run")
    if block.skip:
        pytest.skip(block.skip)
    if "../shared" in block.text and not SHARED.is_dir():
        pytest.skip(f"the block reads ../shared, which is not beside the repository ({SHARED})")
    text = runnable_text(block)
    provide_checkpoints(text, reader, smoke_models)
    script = reader / f".readme-{block.line}.{'sh' if block.lang == 'bash' else 'py'}"
    if block.lang == "bash":
        script.write_text("set -euo pipefail\n" + text, encoding="utf-8")
        argv = ["bash", str(script)]
    else:
        script.write_text(text, encoding="utf-8")
        argv = [sys.executable, str(script)]
    done = subprocess.run(
        argv,
        cwd=reader,
        env=reader_env(reader),
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"{block.id} failed (exit {done.returncode}):\n{text}\n"
        f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
    )
