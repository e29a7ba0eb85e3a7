"""What a newcomer meets first, as a real process: public sets read in place, data checked
before the model loads, clean exit-2 messages (Jinja2, --batch-size, missing extras) and
tables that keep names whole when output is not a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# real subprocesses of the CLI or the server: make test-fast leaves them out
pytestmark = pytest.mark.slow

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def run(
    *args: str, columns: str | None = "200", code: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``haechi ARGS`` (or ``python -c CODE ARGS``), output captured (not a terminal)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"NO_COLOR": "1"}
    if columns is not None:
        env["COLUMNS"] = columns
    command = ["-c", code] if code else ["-m", "haechi"]
    return subprocess.run(
        [sys.executable, *command, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_ko_commongen_v2_runs_from_the_shared_release_files(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    if not (SHARED_DATA / "ko_commongen_v2").is_dir():
        pytest.skip(f"the real KoCommonGEN v2 files are not at {SHARED_DATA}")
    out = run(
        "eval", "--model", f"hf/{tiny_llama_dir}", "--tasks", "ko_commongen_v2",
        "--data-dir", str(SHARED_DATA), "--limit", "4", "-o", str(tmp_path / "out"),
        "--db", str(tmp_path / "runs.db"), "--no-cache",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["n-samples"]["ko_commongen_v2"] == {"original": 847, "effective": 4}
    assert results["n-shot"]["ko_commongen_v2"] == 2


def test_bad_data_is_reported_before_the_model_loads(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "ko_commongen_v2"
    folder.mkdir(parents=True)
    row = {"concept_set": "a#b", "1": "s1", "2": "s2", "3": "s3", "4": "s4"}  # no gold
    (folder / "korean_commongen_v2_847_shuffled.jsonl").write_text(json.dumps(row) + "\n")
    (folder / "v2_5shot.jsonl").write_text(json.dumps({**row, "gold": 1}) + "\n")
    missing_model = tmp_path / "no-such-model"
    out = run(
        "eval", "--model", f"hf/{missing_model}", "--tasks", "ko_commongen_v2",
        "--data-dir", str(tmp_path / "data"),
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert f"{folder / 'korean_commongen_v2_847_shuffled.jsonl'}:1 field 'gold'" in out.stderr
    assert "no-such-model" not in out.stderr


def test_a_jinja_syntax_error_in_a_task_file_is_an_input_error(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text(
        "task: mine\ndoc_to_text: '{{ q '\ndoc_to_choice: c\ndoc_to_target: t\n", "utf-8"
    )
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "test.jsonl").write_text('{"q": "x", "c": ["a"], "t": 0}\n')
    for args in (["tasks", "show", str(spec)], ["eval", "--model", "hf/x", "--tasks", str(spec)]):
        out = run(*args, "--data-dir", str(tmp_path)) if args[0] == "eval" else run(*args)
        assert out.returncode == 2, out.stderr
        assert f"{spec}:2 field 'doc_to_text': Jinja2 syntax error" in out.stderr
        assert "Traceback" not in out.stderr


@pytest.mark.parametrize("value", ["zero", "0", "-4"])
def test_a_bad_batch_size_names_the_option(value: str) -> None:
    out = run(
        "eval", "--model", "hf/x", "--tasks", "kobest_copa", "--samples", "--batch-size", value
    )
    assert out.returncode == 2
    assert "--batch-size" in out.stderr and "positive integer or 'auto'" in out.stderr
    assert "model argument" not in out.stderr


# A command whose optional dependency is missing, as a user without the extra runs it.
WITHOUT = """
import importlib, sys
module = sys.argv[1]
sys.modules[module] = None  # importing it now raises ModuleNotFoundError
from haechi.cli.app import app, main
@app.command("needs")
def needs() -> None:
    importlib.import_module(module)
sys.argv = ["haechi", "needs"]
main()
"""


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("peft", "train"),
        ("fastapi", "web"),
        ("psycopg", "postgres"),
        ("torch", "hf"),
        ("argon2", "web"),
    ],
)
def test_a_missing_optional_module_names_its_extra(module: str, extra: str) -> None:
    out = run(module, code=WITHOUT)
    assert out.returncode == 2, out.stderr
    assert f"pip install 'haechi[{extra}]'" in out.stderr and "Traceback" not in out.stderr


def test_a_missing_module_that_no_extra_provides_still_fails_loudly() -> None:
    out = run("no_such_module_anywhere", code=WITHOUT)
    assert out.returncode == 1 and "ModuleNotFoundError" in out.stderr


def test_tables_keep_names_whole_when_output_is_not_a_terminal() -> None:
    out = run("tasks", "list", columns=None)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[1]: line for line in out.stdout.splitlines() if line.startswith("│")}
    assert "haerae_standard_nomenclature" in rows and "kornat_common_knowledge" in rows
    assert (
        "--data-dir DIR with DIR/ko_commongen_v2/korean_commongen_v2_847_shuffled.jsonl"
        in rows["ko_commongen_v2"]
    )
