"""A red-team campaign with ``mitigation: gedi:DIR`` attacks the guarded target and says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.redteam.campaign import load_campaign
from haechi.redteam.report import build_report
from haechi.redteam.runner import Campaign
from haechi.store import open_store
from haechi.store.attempts import load_attempts


def campaign_file(folder: Path, target: Path, name: str, extra: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\n"
        f"target: {{model: {json.dumps(f'hf/{target}')}, max_new_tokens: 6}}\n"
        "seeds: [{source: bundled, limit: 3}]\n"
        "controls: [{source: controls, limit: 2}]\n" + extra,
        encoding="utf-8",
    )
    return path


def test_a_mitigated_campaign_runs_and_records_its_guard(
    gedi_dir: Path, mixed_target_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(gedi_dir, tmp_path / "guards" / "gedi")
    guarded_file = campaign_file(
        tmp_path, mixed_target_dir, "guarded", "mitigation: gedi:guards/gedi,disc_weight=20\n"
    )
    plain_file = campaign_file(tmp_path, mixed_target_dir, "plain")
    spec = load_campaign(guarded_file)
    assert spec.mitigation == "gedi:guards/gedi,disc_weight=20"
    with open_store(str(tmp_path / "s.db")) as store:
        guarded = Campaign(spec, tmp_path)  # the relative folder is the campaign file's
        outcome = guarded.run(store, progress=False)
        plain = Campaign(load_campaign(plain_file), tmp_path).run(store, progress=False)
        run = store.get_run(outcome.run_id)
        attempts = load_attempts(store, outcome.run_id)
        report = build_report(store, "guarded").to_json()
        plain_run = store.get_run(plain.run_id)
    assert run.status == "completed" and len(attempts) == 3 + 2
    assert all(a.completion_tokens > 0 for a in attempts)
    assert run.config["campaign"]["mitigation"] == "gedi:guards/gedi,disc_weight=20"
    (guard,) = run.config["target"]["guards"]
    assert guard["kind"] == "gedi" and guard["disc_weight"] == 20.0
    assert guard["path"] == str((tmp_path / "guards" / "gedi").resolve())
    assert report["config"]["target"]["guards"] == [guard]
    assert run.model_fingerprint == guarded.target.fingerprint != plain_run.model_fingerprint
    assert "guards" not in plain_run.config["target"]


def test_a_bad_mitigation_names_the_file_line_and_field(
    mixed_target_dir: Path, tmp_path: Path
) -> None:
    path = campaign_file(tmp_path, mixed_target_dir, "bad", "mitigation: gedi:./g,omega=3\n")
    with pytest.raises(InputError) as caught:
        load_campaign(path)
    assert caught.value.field == "mitigation" and caught.value.line == 5
    assert "omega" in caught.value.message
    missing = campaign_file(tmp_path, mixed_target_dir, "missing", "mitigation: gedi:nowhere\n")
    with pytest.raises(InputError, match="no GeDi folder") as absent:
        Campaign(load_campaign(missing), tmp_path)
    assert absent.value.field == "mitigation"
