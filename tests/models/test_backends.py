"""Backends are declared once (``models.spec.BACKENDS``): load() finds any class there."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import pytest

from haechi.errors import InputError
from haechi.models import BACKENDS, Generation, GenerationRequest, LanguageModel, TokenStats, load
from haechi.models.base import GuidableModel, LoglikelihoodRequest, LoglikelihoodResult
from haechi.models.openai_api import OpenAIModel
from haechi.models.streaming import StreamingModel


class EchoModel:
    """A toy backend: one class is all a new backend needs besides its BACKENDS line."""

    def __init__(self, target: str) -> None:
        self.name = f"echo/{target}"
        self.fingerprint = f"echo-{target}"
        self.stats = TokenStats()

    @classmethod
    def from_args(cls, target: str, args: dict[str, object]) -> EchoModel:
        if args:
            raise InputError(f"echo takes no model arguments, got {sorted(args)}")
        return cls(target)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return [LoglikelihoodResult(-float(len(r.continuation)), True, 1) for r in requests]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [Generation((r.prompt or "",), ("stop",)) for r in requests]

    def describe(self) -> dict[str, object]:
        return {"backend": "echo", "model": self.name}


def test_a_new_backend_is_one_line_in_the_map(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "echo", f"{__name__}:EchoModel")
    model = load("echo/안녕")
    assert isinstance(model, EchoModel) and isinstance(model, LanguageModel)
    assert model.generate([GenerationRequest(prompt="하나")])[0].text == "하나"
    with pytest.raises(InputError, match="no model arguments"):
        load("echo/x", dtype="float32")
    with pytest.raises(InputError, match="unknown model backend 'ech'"):
        load("ech/x")


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_declared_backend_names_a_loadable_class(name: str) -> None:
    module, _, attr = BACKENDS[name].partition(":")
    backend = getattr(importlib.import_module(module), attr)  # vllm itself is imported lazily
    assert callable(backend.from_args)


def test_capabilities_are_protocols_not_classes() -> None:
    api = OpenAIModel.from_args("m", {"base_url": "http://127.0.0.1:9/v1"})
    assert isinstance(api, StreamingModel)  # server-sent events
    assert not isinstance(api, GuidableModel)  # no per-step logits to guide
    assert not isinstance(EchoModel("x"), StreamingModel)
