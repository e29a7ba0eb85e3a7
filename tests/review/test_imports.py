"""Import files: strict jsonl (file:line for every bad line), all or nothing, duplicate
ids, side-by-side items, reviewer names, and our own export read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.io import read_jsonl_objects
from haechi.review.accounts import DATABASE_OWNER, add_user
from haechi.review.campaigns import create_campaign, list_campaigns
from haechi.review.exports import export_results
from haechi.review.import_files import read_import_file
from haechi.review.imports import import_items
from haechi.review.labels import set_gold
from haechi.review.results import campaign_results
from haechi.store import open_store

ODD = "줄\u2028바꿈\u2029문단\u0085다음"  # str.splitlines() breaks lines at all three


def write_lines(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def item(i: int, **extra: object) -> dict[str, object]:
    return {"id": f"q{i}", "prompt": f"질문 {i}", "response": f"답변 {i}", **extra}


def test_lines_end_at_newline_only(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "odd.jsonl", [item(0, prompt=ODD), item(1)])
    assert path.read_text("utf-8").count("\n") == 2  # one line each, as json.dumps wrote them
    read = list(read_jsonl_objects(path))
    assert [n for n, _ in read] == [1, 2] and read[0][1]["prompt"] == ODD


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'{"prompt": "a", "response": NaN}', "NaN"),
        (b'{"prompt": "a", "response": "b", "score": Infinity}', "Infinity"),
        (b'{"prompt": "a", "response": "b", "score": -Infinity}', "-Infinity"),
        (b'{"prompt": "a", "response": "b", "score": 1e999}', "too large"),
        (b'{"prompt": "a", "response": "b", "n": ' + b"7" * 5000 + b"}", "5000 digits"),
        (b'{"chain": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
        (b'{"chain": ' + b"[" * 70 + b"]" * 70 + b"}", "nested deeper"),
        (b'{"prompt": "\xed\x95\x9c\xff", "response": "b"}', "not UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'{"prompt": ', "not JSON"),
    ],
)
def test_every_bad_line_is_named_by_file_and_line(tmp_path: Path, bad: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"prompt": "a", "response": "b"}\n\n' + bad + b"\n")
    with pytest.raises(InputError, match=message) as caught:
        read_import_file(path)
    assert (caught.value.file, caught.value.line) == (str(path), 3)


def test_a_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "dup.jsonl", [item(0), item(1), item(0, response="다른 답")])
    with pytest.raises(InputError, match="already on line 1") as caught:
        read_import_file(path)
    assert (caught.value.line, caught.value.field) == (3, "id")
    # without ids, the same prompt and response twice is the same (hashed) id
    same = write_lines(tmp_path / "same.jsonl", [{"prompt": "a", "response": "b"}] * 2)
    with pytest.raises(InputError, match="already on line 1"):
        read_import_file(same)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"chain": {"arena": {"a": "첫 답"}}}, "chain.arena"),
        ({"chain": {"arena": "A와 B"}}, "chain.arena"),
        ({"chain": {"arena": {"a": "x", "b": "y"}}, "verdicts": [{"detector": "A"}]}, "verdicts"),
    ],
)
def test_a_malformed_side_by_side_item_is_refused(
    tmp_path: Path, record: dict[str, object], field: str
) -> None:
    path = write_lines(tmp_path / "arena.jsonl", [item(0), item(1, **record)])
    with pytest.raises(InputError, match=field) as caught:
        read_import_file(path)
    assert caught.value.line == 2


@pytest.mark.parametrize("name", ["a/b", "x?y=1", "name#frag", "a b", "", "x" * 65, "bob\n"])
def test_imported_reviewer_names_follow_the_user_name_rule(tmp_path: Path, name: str) -> None:
    label = {"reviewer": name, "values": {"attack_success": "yes", "severity": "1"}}
    path = write_lines(tmp_path / "names.jsonl", [item(0), item(1, labels=[label])])
    with pytest.raises(InputError, match="reviewer name") as caught:
        read_import_file(path)
    assert (caught.value.line, caught.value.field) == (2, "labels.0.reviewer")


def test_a_bad_line_late_in_a_file_leaves_nothing_behind(db_url: str, tmp_path: Path) -> None:
    good = {"reviewer": "ann", "values": {"attack_success": "yes", "severity": "1"}}
    bad = {"reviewer": "ann", "values": {"attack_success": "yes", "severity": "9"}}
    records = [item(i, labels=[good]) for i in range(600)] + [item(600, labels=[bad])]
    path = write_lines(tmp_path / "late.jsonl", records)
    lines = read_import_file(path)
    with open_store(db_url) as store:
        with pytest.raises(InputError) as caught:
            import_items(store, "late", lines, "import")
        assert (caught.value.line, caught.value.field) == (601, "labels.0.values.severity")
        assert list_campaigns(store, DATABASE_OWNER) == []
        # an existing campaign keeps what it had; an unknown reviewer also undoes it all
        create_campaign(store, "kept")
        with pytest.raises(InputError, match="nobody"):
            import_items(store, "kept", lines[:600], "import", reviewers=["nobody"])
        (kept,) = list_campaigns(store, DATABASE_OWNER)
        assert (kept.name, kept.items, kept.labels) == ("kept", 0, 0)
        with pytest.raises(InputError, match="nobody"):
            import_items(store, "new", lines[:600], "import", reviewers=["nobody"])
        assert [c.name for c in list_campaigns(store, DATABASE_OWNER)] == ["kept"]


def test_our_export_reads_back_exactly(db_url: str, tmp_path: Path) -> None:
    note = "메모" + ODD + "끝"
    label = {"reviewer": "ann", "values": {"attack_success": "no", "severity": "0", "note": note}}
    records = [
        item(0, prompt=ODD, response="응답" + ODD, category="개인정보", labels=[label]),
        item(1, turns=[{"role": "user", "content": ODD}, {"role": "assistant", "content": "x"}]),
    ]
    source = write_lines(tmp_path / "odd.jsonl", records)
    with open_store(db_url) as store:
        admin = add_user(store, "admin", "admin", "long enough secret")
        import_items(store, "first", read_import_file(source), "import")
        adjudicated = {"attack_success": "yes", "harm_categories": ["other"], "severity": "3"}
        first = campaign_results(store, "first", DATABASE_OWNER)
        set_gold(store, "first", first.items[1].id, admin, {**adjudicated, "note": ODD + "!"})
        first = campaign_results(store, "first", DATABASE_OWNER)
        exported = export_results(first, "jsonl", tmp_path / "first.jsonl")
        _, summary = import_items(store, "second", read_import_file(exported), "import")
        second = campaign_results(store, "second", DATABASE_OWNER)
    assert (summary.added, summary.labels) == (2, 1)
    for a, b in zip(first.items, second.items, strict=True):
        assert (a.external_id, a.prompt, a.response, a.category, a.turns, a.source) == (
            b.external_id,
            b.prompt,
            b.response,
            b.category,
            b.turns,
            b.source,
        )
        assert [x.values for x in a.labels] == [x.values for x in b.labels]
        assert [x.updated_at for x in a.labels] == [x.updated_at for x in b.labels]
        assert (a.gold, a.gold_source) == (b.gold, b.gold_source)
    assert second.items[1].gold_source == "adjudicated"
    assert second.items[1].gold == {**adjudicated, "note": ODD + "!"}
    assert second.items[0].prompt == ODD and second.items[0].labels[0].values["note"] == note
