"""``haechi generate --guard gedi:DIR``: guarded answers carry the guard in their records
and never resume into an unguarded run's file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from haechi.cli.app import app
from haechi.errors import InputError


def test_generate_with_a_guard_records_it(
    tiny_llama_dir: Path, gedi_dir: Path, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "prompt": f"친구에게 {i}"}, ensure_ascii=False) + "\n"
            for i in range(3)
        )
    )
    runner = CliRunner()
    base = [
        "generate",
        "-m",
        f"hf/{tiny_llama_dir}",
        "--prompts",
        str(prompts),
        "--max-new-tokens",
        "6",
    ]
    plain = runner.invoke(app, [*base, "--out", str(tmp_path / "plain.jsonl")])
    assert plain.exit_code == 0, plain.output
    guarded_out = tmp_path / "guarded.jsonl"
    guarded = runner.invoke(app, [*base, "--out", str(guarded_out), "--guard", f"gedi:{gedi_dir}"])
    assert guarded.exit_code == 0, guarded.output
    plain_lines = [json.loads(x) for x in (tmp_path / "plain.jsonl").read_text().splitlines()]
    guarded_lines = [json.loads(x) for x in guarded_out.read_text().splitlines()]
    assert len(guarded_lines) == 3
    assert {x["fingerprint"] for x in guarded_lines}.isdisjoint(
        {x["fingerprint"] for x in plain_lines}
    )
    config = json.loads((tmp_path / "guarded.config.json").read_text())
    assert config["model_config"]["guards"][0]["kind"] == "gedi"
    # the unguarded file is not resumed by a guarded run (other fingerprint)
    mixed = runner.invoke(
        app, [*base, "--out", str(tmp_path / "plain.jsonl"), "--guard", f"gedi:{gedi_dir}"]
    )
    assert isinstance(mixed.exception, InputError) and "another model" in str(mixed.exception)
