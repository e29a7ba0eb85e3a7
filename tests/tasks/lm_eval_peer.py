"""lm-eval 0.4.13's own task objects, built from its YAML and pointed at our sample files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from haechi.tasks import TaskSpec


def samples_folder(task: str) -> Path:
    from importlib import resources

    return Path(str(resources.files("haechi.tasks").joinpath("samples", task)))


def lm_eval_task(spec: TaskSpec, yaml_path: str, subject: str | None, tmp_path: Path) -> Any:
    """lm-eval's task from its own YAML, reading our sample files (one per split)."""
    tasks = pytest.importorskip("lm_eval.tasks", reason="lm-eval is a dev dependency")
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(Path(tasks.__file__).parent / yaml_path)
    splits = {spec.dataset.test_split}
    if spec.dataset.fewshot_split:
        splits.add(spec.dataset.fewshot_split)
    files = {}
    for split in sorted(splits):
        rows = [
            json.loads(line)
            for line in (samples_folder(spec.task) / f"{split}.jsonl")
            .read_text("utf-8")
            .splitlines()
        ]
        if subject is not None:
            rows = [r for r in rows if r["subject"] == subject]
        path = tmp_path / f"{spec.task}-{split}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        files[split] = str(path)
    # lm-eval names its splits by role; ours keep the Hub's names, so map role → our split.
    test_role = "test_split" if config.get("test_split") else "validation_split"
    config[test_role] = spec.dataset.test_split
    for role in ("training_split", "validation_split", "fewshot_split", "test_split"):
        if role != test_role and config.get(role):
            config[role] = spec.dataset.fewshot_split or spec.dataset.test_split
    if spec.task == "ko_gpqa":
        # lm-eval shuffles GPQA's answers with the global generator; give both sides the
        # same (our) order so that the template is what is compared.
        from haechi.tasks.processors import gpqa

        config["process_docs"] = lambda dataset: dataset.map(gpqa)
    config.update(
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": files, "cache_dir": str(tmp_path / "hf-cache")},
        metric_list=[
            {k: v for k, v in m.items() if k != "hf_evaluate"} for m in config["metric_list"]
        ],
    )
    return ConfigurableTask(config=config)
