"""Task specs and document loading: bundled tasks work, bad input names file, line, field."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from haechi.documents import read_file
from haechi.errors import InputError
from haechi.tasks import DocumentSource, bundled_tasks, load_documents, load_spec, resolve
from haechi.tasks.prompts import build_prompt


def test_every_bundled_task_builds_prompts_from_its_samples() -> None:
    for spec in bundled_tasks().values():
        docs = load_documents(spec, spec.dataset.test_split, DocumentSource("samples"))
        assert len(docs) >= 3, spec.task
        for doc in docs:
            prompt = build_prompt(spec, doc, [])
            if spec.output_type == "generate_until":
                assert prompt.context and prompt.answer
                continue
            if spec.output_type == "judged":  # the first turn asked, the later ones kept
                assert prompt.context == prompt.turns[0]
                assert len(prompt.turns) == len(prompt.references) >= 2
                continue
            assert len(prompt.pairs) == len(prompt.choices) >= 2
            assert 0 <= prompt.target < len(prompt.choices)


def test_groups_expand_and_unknown_names_are_input_errors() -> None:
    specs, groups = resolve("kobest,ko_arc,kobest_copa")
    names = [s.task for s in specs]
    assert names[-1] == "ko_arc" and names.count("kobest_copa") == 1
    assert names[:-1] == groups["kobest"].tasks
    assert list(groups) == ["kobest"] and "kobest_copa" in groups["kobest"].tasks
    with pytest.raises(InputError, match="unknown task or group 'ko_nope'"):
        resolve("ko_arc,ko_nope")


def test_hangul_is_nfc_normalised_at_load(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "한국어")
    assert len(decomposed) == 8
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({"q": decomposed, "c": [decomposed]}) + "\n", encoding="utf-8")
    doc = read_file(path)[0]
    assert doc.fields == {"q": "한국어", "c": ["한국어"]}
    assert doc.origin == f"{path}:1"


def test_bad_jsonl_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2,\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_file(path)
    assert info.value.file == str(path) and info.value.line == 3


def test_csv_json_and_jsonl_read_the_same_rows(tmp_path: Path) -> None:
    rows = [{"premise": "비가 왔다.", "label": "0"}, {"premise": "눈이 왔다.", "label": "1"}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    (tmp_path / "a.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "a.csv").write_text("premise,label\n비가 왔다.,0\n눈이 왔다.,1\n", encoding="utf-8")
    for name in ("a.jsonl", "a.json", "a.csv"):
        assert [d.fields for d in read_file(tmp_path / name)] == rows, name
    assert read_file(tmp_path / "a.csv")[1].origin.endswith("a.csv:3")


def test_data_dir_missing_split_and_missing_field(tmp_path: Path) -> None:
    spec = bundled_tasks()["kobest_copa"]
    with pytest.raises(InputError, match="no test split") as info:
        load_documents(spec, "test", DocumentSource("dir", tmp_path))
    assert "test.jsonl" in str(info.value)
    folder = tmp_path / "kobest_copa"
    folder.mkdir()
    good = {
        "premise": "p",
        "question": "원인",
        "alternative_1": "a",
        "alternative_2": "b",
        "label": 0,
    }
    bad = {k: v for k, v in good.items() if k != "alternative_2"}
    (folder / "test.jsonl").write_text(
        json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as info:
        load_documents(spec, "test", DocumentSource("dir", tmp_path))
    assert info.value.field == "alternative_2"
    assert info.value.file == f"{folder / 'test.jsonl'}:2"


def test_out_of_range_label_names_the_document(tmp_path: Path) -> None:
    spec = bundled_tasks()["kobest_copa"]
    folder = tmp_path / "kobest_copa"
    folder.mkdir()
    doc = {
        "premise": "p",
        "question": "결과",
        "alternative_1": "a",
        "alternative_2": "b",
        "label": 2,
    }
    (folder / "test.jsonl").write_text(json.dumps(doc) + "\n", encoding="utf-8")
    (document,) = load_documents(spec, "test", DocumentSource("dir", tmp_path))
    with pytest.raises(InputError, match="not a valid index") as info:
        build_prompt(spec, document, [])
    assert info.value.field == "label" and info.value.file.endswith("test.jsonl:1")


def test_invalid_spec_files_name_file_line_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: x\n\tdoc_to_text: q\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_spec(broken)
    assert info.value.file == str(broken) and info.value.line == 2
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "task: x\ndoc_to_text: q\ndoc_to_choice: c\ndoc_to_target: t\nnum_fewshot: many\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_spec(wrong)
    assert info.value.field == "num_fewshot"


@pytest.mark.parametrize(
    ("field", "source", "line"),
    [
        ("doc_to_text", "'질문: {{ q '", 2),
        ("doc_to_choice", "'[a, b'", 3),
        ("description", "'{% if %}'", 6),
    ],
)
def test_a_jinja_syntax_error_names_file_line_and_field(
    tmp_path: Path, field: str, source: str, line: int
) -> None:
    fields = {
        "doc_to_text": "q",
        "doc_to_choice": "c",
        "doc_to_target": "t",
        "num_fewshot": "0",
        "description": "''",
    }
    path = tmp_path / "bad.yaml"
    body = "".join(f"{k}: {source if k == field else v}\n" for k, v in fields.items())
    path.write_text("task: bad\n" + body, encoding="utf-8")
    with pytest.raises(InputError, match="Jinja2 syntax error") as info:
        load_spec(path)
    assert (info.value.file, info.value.line, info.value.field) == (str(path), line, field)


def test_a_user_task_file_runs_like_a_bundled_one(tmp_path: Path) -> None:
    spec_path = tmp_path / "my_task.yaml"
    spec_path.write_text(
        "task: my_task\n"
        'doc_to_text: "질문: {{q}}\\n답:"\n'
        "doc_to_choice: options\n"
        "doc_to_target: answer\n"
        "metrics: [acc, acc_bytes]\n",
        encoding="utf-8",
    )
    (tmp_path / "my_task").mkdir()
    (tmp_path / "my_task" / "test.jsonl").write_text(
        json.dumps({"q": "하늘은?", "options": ["파랗다", "빨갛다"], "answer": "파랗다"}) + "\n",
        encoding="utf-8",
    )
    (spec,), _ = resolve([str(spec_path)])
    (doc,) = load_documents(spec, "test", DocumentSource("dir", tmp_path))
    prompt = build_prompt(spec, doc, [])
    assert prompt.context == "질문: 하늘은?\n답:"
    assert prompt.choices == ("파랗다", "빨갛다") and prompt.target == 0
