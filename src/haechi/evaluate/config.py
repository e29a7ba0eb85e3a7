"""What an evaluation run is asked to do (recorded in full next to its results)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from haechi.tasks.prompts import SamplingMode


class EvalConfig(BaseModel):
    """Options of ``haechi eval``; ``num_fewshot=None`` keeps each task's own count."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str]
    num_fewshot: int | None = Field(None, ge=0)
    limit: int | None = Field(None, ge=1)
    seed: int = 1234
    data_dir: Path | None = None
    samples: bool = False
    fewshot_sampling: SamplingMode = "haechi"
    output: Path | None = None
    log_samples: bool = False
    bootstrap_iters: int = Field(
        100_000,
        ge=0,
        description="resamples for the bootstrap stderr of corpus metrics (F1); 0: none",
    )
    chunk_size: int = Field(
        256, ge=1, description="requests per model call and per cache commit (resume granularity)"
    )
