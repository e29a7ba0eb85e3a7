"""Continued pre-training (``--objective causal-lm``): raw text in three layouts, packing that
keeps documents apart, and held-out perplexity before and after."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from haechi.build.train_text import document_text, read_texts
from haechi.errors import InputError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("trl")

from haechi.build.perplexity import perplexity  # noqa: E402
from haechi.build.train import train  # noqa: E402
from haechi.build.train_config import TrainConfig  # noqa: E402

DOCUMENTS = [
    "서울은 대한민국의 수도이다. 한강이 도시를 가로질러 흐른다.",
    "김치는 배추와 고춧가루로 담근다.\n겨울이 오기 전에 김장을 한다.",
    "세종대왕은 훈민정음을 만들었다. 백성이 글을 쉽게 익히게 하려는 뜻이었다.",
    "부산은 바다가 있는 항구 도시이다. 여름마다 해수욕장에 사람이 많다.",
    "제주도에는 한라산이 있다. 귤이 유명하다.",
    "경주는 신라의 옛 수도이다. 불국사와 석굴암이 있다.",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_three_layouts_give_the_same_documents(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain = tmp_path / "corpus.txt"
    plain.write_text("\n\n\n".join(DOCUMENTS) + "\n", encoding="utf-8")
    lines = tmp_path / "corpus.jsonl"
    lines.write_text(
        "".join(
            json.dumps({"id": i, "text": d}, ensure_ascii=False) + "\n"
            for i, d in enumerate(DOCUMENTS)
        ),
        encoding="utf-8",
    )
    table = tmp_path / "corpus.parquet"
    pq.write_table(pa.table({"text": DOCUMENTS}), table)
    for path in (plain, lines, table):
        data = read_texts(path)
        assert data.format == "text"
        assert [document_text(e) for e in data.examples] == DOCUMENTS, path.suffix
    assert read_texts(plain).examples[1].origin == f"{plain}:4"  # the block's first line
    decomposed = tmp_path / "nfd.txt"
    decomposed.write_text("\u1100\u1161", encoding="utf-8")  # ᄀ + ᅡ
    assert document_text(read_texts(decomposed).examples[0]) == "가"


def test_bad_text_names_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "좋다"}\n{"text": ""}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2.*'text'"):
        read_texts(bad)
    with pytest.raises(InputError, match="raw text must be one of"):
        read_texts(tmp_path / "corpus.csv")
    with pytest.raises(InputError, match="no documents"):
        (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
        read_texts(tmp_path / "empty.txt")
    sft = TrainConfig(model="m", data=tmp_path / "empty.txt", output=tmp_path / "o")
    from haechi.build.train_data import read_examples

    with pytest.raises(InputError, match="causal-lm"):
        read_examples(sft.data)
    with pytest.raises(InputError, match="assistant"):
        TrainConfig(
            model="m", data=bad, output=tmp_path / "o", objective="causal-lm",
            assistant_only_loss=True,
        )  # fmt: skip


def test_perplexity_is_the_models_own_mean_loss(tiny_llama_dir: Path) -> None:
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    tok = transformers.AutoTokenizer.from_pretrained(tiny_llama_dir)
    ids = tok(DOCUMENTS[0], return_tensors="pt").input_ids
    with torch.no_grad():
        loss = float(model(input_ids=ids, labels=ids).loss)  # mean over predicted tokens
    measured = perplexity(model, tok, DOCUMENTS[:1], max_length=512)
    assert measured.tokens == ids.shape[1] - 1
    assert measured.value == pytest.approx(math.exp(loss), rel=1e-5)
    assert model.training is False  # from_pretrained gives eval mode, and it is kept


def test_packed_documents_do_not_attend_to_each_other(tiny_llama_dir: Path) -> None:
    """What ``packing`` relies on: with position ids restarting per document and no
    attention mask, and no KV cache (as in training), transformers masks each document off
    from the others (sdpa here)."""
    model = transformers.AutoModelForCausalLM.from_pretrained(
        tiny_llama_dir, attn_implementation="sdpa"
    )
    tok = transformers.AutoTokenizer.from_pretrained(tiny_llama_dir)
    first, second = (tok(d).input_ids for d in DOCUMENTS[:2])
    row = torch.tensor([first + second])
    positions = torch.tensor([list(range(len(first))) + list(range(len(second)))])
    with torch.no_grad():
        packed = model(input_ids=row, position_ids=positions, use_cache=False).logits
        alone = model(input_ids=torch.tensor([second])).logits[0]
    torch.testing.assert_close(packed[0, len(first) :], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_continued_pretraining_lowers_held_out_perplexity(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(DOCUMENTS * 4), encoding="utf-8")
    config = TrainConfig(
        model=str(tiny_llama_dir), data=corpus, output=tmp_path / "run", objective="causal-lm",
        method="full", packing=True, max_length=128, batch_size=2, learning_rate=3e-3,
        max_steps=12, eval_fraction=0.25, logging_steps=1, device="cpu",
    )  # fmt: skip
    report = train(config, progress=False)
    assert report.data.format == "text" and report.data.loss_on == "all"
    assert report.data.train_examples == 18 and report.data.eval_examples == 6
    before, after = report.perplexity_before, report.perplexity_after
    assert before is not None and after is not None
    assert after.tokens == before.tokens > 0 and after.documents == 6
    # the held-out documents repeat training ones: twelve steps must cut perplexity a lot
    assert after.value < 0.5 * before.value, (before.value, after.value)
    # packed rows: more documents than rows, each counted as a sample
    assert report.throughput.samples > report.global_step * config.batch_size
    saved = json.loads((tmp_path / "run" / "train_report.json").read_text(encoding="utf-8"))
    assert saved["perplexity_after"]["value"] == pytest.approx(after.value)
    assert saved["config"]["objective"] == "causal-lm"
