"""Model backends behind one ``LanguageModel`` interface, loaded from a spec string."""

from __future__ import annotations

from haechi.models.base import (
    ChatMessage,
    Generation,
    GenerationRequest,
    LanguageModel,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenLogprob,
    TokenStats,
)
from haechi.models.spec import ModelSpec, parse_model_args, parse_spec

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
]


def load(spec: str, **args: object) -> LanguageModel:
    """Load a model from ``hf/<id|path>``, ``openai/<model>`` or ``vllm/<id|path>``.

    ``args`` are the backend's options (strings from the CLI are converted); unknown
    or invalid ones raise ``InputError`` naming the argument.
    """
    parsed = parse_spec(spec)
    if parsed.backend == "hf":
        from haechi.models.hf import HFModel

        return HFModel.from_args(parsed.target, args)
    if parsed.backend == "openai":
        from haechi.models.openai_api import OpenAIModel

        return OpenAIModel.from_args(parsed.target, args)
    from haechi.models.vllm import VLLMModel

    return VLLMModel.from_args(parsed.target, args)
