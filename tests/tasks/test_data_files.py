"""Task data in a set's own release layout (``dataset.data_files``): the real public sets in
``shared/data`` read in place, and bad folders or files named by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.tasks import DocumentSource, build_prompt, bundled_tasks, check_data, load_spec
from haechi.tasks import load_documents as load

# CI clones the repository with shared/ beside it: <root>/../shared/data.
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared(name: str) -> DocumentSource:
    if not (SHARED_DATA / name).is_dir():
        pytest.skip(f"the real {name} data set is not at {SHARED_DATA / name}")
    return DocumentSource("dir", SHARED_DATA)


def test_ko_commongen_v2_reads_its_release_files_in_place() -> None:
    source, spec = shared("ko_commongen_v2"), bundled_tasks()["ko_commongen_v2"]
    test, shots = load(spec, "test", source), load(spec, "fewshot", source)
    assert (len(test), len(shots)) == (847, 5)  # SOURCE.md's counts
    release = SHARED_DATA / "ko_commongen_v2" / "korean_commongen_v2_847_shuffled.jsonl"
    assert test[0].origin == f"{release}:1" and test[846].doc_id == 846
    assert test[0].fields["concept_set"] == "만들다#세종#위하다#백성들#한글"
    prompt = build_prompt(spec, test[0], shots[:2])
    assert prompt.target == 2  # gold 3, 1-based
    assert prompt.context.count("concept set: {") == 3  # two shots and the question
    assert prompt.choices[2] == "3. 세종시는 백성들을 위해 한글을 만든 대왕의 묘호를 따서 만들었어."
    check_data([spec], source)


def test_kobbq_reads_its_release_tsv_in_place() -> None:
    source, spec = shared("kobbq"), bundled_tasks()["kobbq"]
    docs = load(spec, "test", source)
    assert len(docs) == 2280
    assert docs[0].origin == f"{SHARED_DATA / 'kobbq' / 'KoBBQ_test_samples.tsv'}:2"
    assert docs[0].fields["choices"] == ["손자", "할머니", "알 수 없음"]
    assert build_prompt(spec, docs[0], []).target == 2  # "알 수 없음"
    check_data([spec], source)


def _commongen(**overrides: object) -> dict[str, object]:
    row = {"concept_set": "a#b", "1": "s1", "2": "s2", "3": "s3", "4": "s4", "gold": 1}
    return {**row, **overrides}


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_a_missing_release_file_names_the_folder_and_both_layouts(tmp_path: Path) -> None:
    spec = bundled_tasks()["ko_commongen_v2"]
    with pytest.raises(InputError, match="no test split") as info:
        check_data([spec], DocumentSource("dir", tmp_path))
    assert info.value.file == str(tmp_path) and info.value.field == "data-dir"
    assert "DIR/ko_commongen_v2/test.jsonl" in str(info.value)
    assert "DIR/ko_commongen_v2/korean_commongen_v2_847_shuffled.jsonl" in str(info.value)


def test_a_release_row_missing_a_field_is_named_by_file_line_and_field(tmp_path: Path) -> None:
    spec = bundled_tasks()["ko_commongen_v2"]
    folder = tmp_path / "ko_commongen_v2"
    bad = _commongen()
    del bad["gold"]
    release = _write(folder / "korean_commongen_v2_847_shuffled.jsonl", [_commongen(), bad])
    _write(folder / "v2_5shot.jsonl", [_commongen()])
    with pytest.raises(InputError) as info:
        check_data([spec], DocumentSource("dir", tmp_path))
    assert info.value.file == f"{release}:2" and info.value.field == "gold"
    # no shots asked: the few-shot file is not needed, only the evaluated one
    (folder / "v2_5shot.jsonl").unlink()
    release.write_text(json.dumps(_commongen()) + "\n", "utf-8")
    check_data([spec], DocumentSource("dir", tmp_path), num_fewshot=0)
    with pytest.raises(InputError, match="no fewshot split"):
        check_data([spec], DocumentSource("dir", tmp_path))


def test_task_folder_files_win_and_globs_join_files_in_order(tmp_path: Path) -> None:
    spec_path = tmp_path / "mine.yaml"
    spec_path.write_text(
        "task: mine\n"
        "dataset:\n"
        "  data_files:\n"
        "    test: [release/part-*.jsonl]\n"
        "doc_to_text: '{{q}}'\n"
        'doc_to_choice: \'["a", "b"]\'\n'
        "doc_to_target: '0'\n",
        encoding="utf-8",
    )
    spec = load_spec(spec_path)
    _write(tmp_path / "release" / "part-2.jsonl", [{"q": "c"}])
    _write(tmp_path / "release" / "part-1.jsonl", [{"q": "a"}, {"q": "b"}])
    docs = load(spec, "test", DocumentSource("dir", tmp_path))
    assert [(d.doc_id, d.fields["q"]) for d in docs] == [(0, "a"), (1, "b"), (2, "c")]
    assert docs[2].origin == f"{tmp_path / 'release' / 'part-2.jsonl'}:1"
    _write(tmp_path / "mine" / "test.jsonl", [{"q": "mine"}])
    assert [d.fields["q"] for d in load(spec, "test", DocumentSource("dir", tmp_path))] == ["mine"]


def test_an_absolute_data_file_pattern_is_refused_at_its_line(tmp_path: Path) -> None:
    spec_path = tmp_path / "abs.yaml"
    spec_path.write_text(
        "task: abs\n"
        "dataset:\n"
        "  data_files:\n"
        "    test: /data/x.jsonl\n"
        "doc_to_text: q\n"
        "doc_to_choice: c\n"
        "doc_to_target: t\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="relative to --data-dir") as info:
        load_spec(spec_path)
    assert (info.value.field, info.value.line) == ("dataset.data_files", 3)
