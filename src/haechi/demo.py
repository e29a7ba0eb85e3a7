"""The demo run behind ``make demo``: a random smoke model on the bundled sample tasks."""

from __future__ import annotations

from pathlib import Path

from haechi.evaluate import EvalConfig, EvalReport, evaluate
from haechi.models import load
from haechi.store import Store

DEMO_TASKS = ["ko_h5", "kobest"]


def run_demo(store: Store, model_dir: Path, *, progress: bool = True) -> EvalReport:
    """Evaluate the smoke model in ``model_dir`` on the bundled sample documents."""
    model = load(f"hf/{model_dir}")
    return evaluate(
        model, EvalConfig(tasks=DEMO_TASKS, samples=True), store=store, progress=progress
    )


def reuse_hint(model_dir: Path) -> str:
    """How to point other commands at the demo's model."""
    spec = f"hf/{model_dir}"
    return (
        f"smoke model: {model_dir}\n"
        f"reuse it: haechi chat --model {spec}\n"
        f"          haechi eval --model {spec} --tasks kobest --samples"
    )
