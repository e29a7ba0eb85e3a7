"""Model backends behind one ``LanguageModel`` interface, loaded from a spec string."""

from __future__ import annotations

import importlib

from haechi.models.base import (
    ChatMessage,
    Generation,
    GenerationRequest,
    LanguageModel,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenLogprob,
    TokenStats,
    serves_concurrent_calls,
)
from haechi.models.spec import BACKENDS, ModelSpec, parse_model_args, parse_spec

__all__ = [
    "ChatMessage",
    "Generation",
    "GenerationRequest",
    "LanguageModel",
    "LoglikelihoodRequest",
    "LoglikelihoodResult",
    "ModelSpec",
    "TokenLogprob",
    "TokenStats",
    "load",
    "parse_model_args",
    "parse_spec",
    "serves_concurrent_calls",
]


def load(spec: str, **args: object) -> LanguageModel:
    """Load a model from ``hf/<id|path>``, ``openai/<model>``, ``vllm/<id|path>``
    or ``mock/<name>``.

    ``args`` are the backend's options (strings from the CLI are converted); unknown
    or invalid ones raise ``InputError`` naming the argument. The backend class comes from
    ``BACKENDS`` and is imported only now.
    """
    parsed = parse_spec(spec)
    module, _, name = BACKENDS[parsed.backend].partition(":")
    backend = getattr(importlib.import_module(module), name)
    model: LanguageModel = backend.from_args(parsed.target, args)
    return model
