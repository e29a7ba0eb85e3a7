"""What an evaluation run is asked to do (recorded in full next to its results)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from haechi.tasks.prompts import SamplingMode

DEFAULT_TEMPLATE = "default"  # --apply-chat-template alone: the tokenizer's (or server's)


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
    # instruct and reasoning models (lm-eval 0.4.13's options of the same names)
    system_instruction: str | None = Field(
        None, description="the system turn, before the task's description"
    )
    apply_chat_template: str | None = Field(
        None,
        description=f"{DEFAULT_TEMPLATE!r}: the tokenizer's chat template (a server's own without "
        "one); a bundled template's name (chatml, llama3, gemma) or a Jinja template file",
    )
    fewshot_as_multiturn: bool | None = Field(
        None, description="each few-shot example its own turns; default: on with a chat template"
    )
    think_end_token: str | None = Field(
        None, description="generated text up to its last occurrence is reasoning, dropped"
    )
    max_gen_toks: int | None = Field(
        None, ge=1, description="generate_until budget (reasoning included); None: the task's"
    )

    @model_validator(mode="after")
    def _multiturn_needs_template(self) -> EvalConfig:
        if self.fewshot_as_multiturn and self.apply_chat_template is None:
            raise ValueError("fewshot_as_multiturn needs apply_chat_template")
        return self

    @property
    def multiturn(self) -> bool:
        """lm-eval's CLI: on by default under a chat template."""
        if self.apply_chat_template is None:
            return False
        return self.fewshot_as_multiturn is not False
