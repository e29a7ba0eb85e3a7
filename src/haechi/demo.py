"""The demo run behind ``make demo``: a random smoke model on the bundled sample tasks."""

from __future__ import annotations

from haechi.evaluate import EvalConfig, EvalReport, evaluate
from haechi.models import load
from haechi.models.smoke import smoke_model_dir
from haechi.store import Store

DEMO_TASKS = ["ko_h5", "kobest"]


def run_demo(store: Store, *, progress: bool = True) -> EvalReport:
    """Build (or reuse) the smoke model and evaluate it on the bundled sample documents."""
    model = load(f"hf/{smoke_model_dir()}")
    return evaluate(
        model, EvalConfig(tasks=DEMO_TASKS, samples=True), store=store, progress=progress
    )
