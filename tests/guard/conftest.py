"""A GeDi trained on trivially separable synthetic classes, and a tiny target LM that
speaks both classes, shared by the guard tests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from haechi.guard.data import LabelledSet, LabelledText
from haechi.guard.gedi_config import ClassNames, GediTraining

# Words whose syllables are single tokens of the tiny SentencePiece tokenizer, so the
# classes differ token by token.
KIND_WORDS = ("좋은", "친구", "사람", "고마", "맛있", "책")
RUDE_WORDS = ("피해", "거절", "무시", "침해", "후회", "변")
FAST_TRAINING = GediTraining(learning_rate=3e-3, batch_size=8, max_steps=60, max_length=32)


def synthetic_set(n: int, seed: int) -> LabelledSet:
    """``n`` texts alternating kind (desired) and rude (undesired), 3-7 words each."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        words = KIND_WORDS if i % 2 == 0 else RUDE_WORDS
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 7)))
        examples.append(LabelledText(text, i % 2 == 0))
    return LabelledSet(
        tuple(examples),
        ClassNames(desired="kind", undesired="rude"),
        {"kind": "desired", "rude": "undesired"},
        "synthetic",
        None,
    )


@pytest.fixture(scope="session")
def gedi_dir(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeDi trained from the tiny Llama on 64 synthetic texts (60 steps)."""
    from haechi.guard.gedi_train import train_gedi

    out = tmp_path_factory.mktemp("gedi") / "gedi"
    train_gedi(f"hf/{tiny_llama_dir}", synthetic_set(64, 0), out, FAST_TRAINING, device="cpu")
    return out


@pytest.fixture(scope="session")
def mixed_target_dir(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama trained as a plain LM on both classes' texts: unguided, it writes
    kind and rude words alike."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    lm = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32)
    texts = [e.text for e in synthetic_set(64, 0).examples]
    optimizer = torch.optim.AdamW(lm.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for step in range(60):
        rows = [
            tokenizer(texts[(step * 8 + i) % len(texts)])["input_ids"] + [tokenizer.eos_token_id]
            for i in range(8)
        ]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        labels = torch.tensor([r + [-100] * (width - len(r)) for r in rows])
        lm(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    out = tmp_path_factory.mktemp("models") / "mixed-target"
    lm.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
