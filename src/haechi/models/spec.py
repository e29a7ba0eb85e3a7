"""Model spec strings (``hf/<id|path>``, ``openai/<model>``, ``vllm/<id|path>``, ``mock/<name>``) and their args."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from haechi.errors import InputError
from haechi.validation import validated

ArgsT = TypeVar("ArgsT", bound=BaseModel)

# Every backend, once: its name in model specs and the class that loads it ("module:Class",
# imported only when a spec names it, so an API-only install never imports torch).
BACKENDS: dict[str, str] = {
    "hf": "haechi.models.hf:HFModel",
    "openai": "haechi.models.openai_api:OpenAIModel",
    "vllm": "haechi.models.vllm:VLLMModel",
    "mock": "haechi.models.mock:MockModel",
}


@dataclass(frozen=True)
class ModelSpec:
    backend: str
    target: str

    def __str__(self) -> str:
        return f"{self.backend}/{self.target}"


def parse_spec(spec: str) -> ModelSpec:
    """Split ``backend/target``; the target may itself contain slashes (hub ids, paths)."""
    backend, sep, target = spec.partition("/")
    if not sep or not target:
        raise InputError(
            f"model spec {spec!r} is not of the form BACKEND/TARGET",
            field="model",
            hint="e.g. hf/beomi/Llama-3-Open-Ko-8B, hf/./my-checkpoint, openai/gpt-4o-mini",
        )
    if backend not in BACKENDS:
        raise InputError(
            f"unknown model backend {backend!r}",
            field="model",
            hint=f"choose one of {', '.join(BACKENDS)}",
        )
    return ModelSpec(backend, target)


def parse_model_args(text: str | None) -> dict[str, str]:
    """Parse ``key=value,key=value`` (the CLI's ``--model-args``) into strings.

    Values are converted to their field types by each backend's pydantic args model.
    """
    if not text:
        return {}
    args: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(
                f"model argument {item!r} is not key=value",
                field="model-args",
                hint="e.g. --model-args dtype=float32,batch_size=8",
            )
        args[key] = value.strip()
    return args


def validate_args(args_model: type[ArgsT], args: dict[str, object], backend: str) -> ArgsT:
    """Build a backend's pydantic args model; bad values raise ``InputError`` naming them."""
    return validated(args_model, args, where=f"{backend} model argument")
