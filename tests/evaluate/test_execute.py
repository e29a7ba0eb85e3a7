"""Chunked execution's progress: a bar for work to do, none for no work."""

from __future__ import annotations

import pytest
import rich
from rich.console import Console

from haechi.evaluate.execute import run_generation, run_loglikelihood
from haechi.models import LoglikelihoodRequest, load


def test_no_bar_for_a_kind_of_request_there_is_none_of(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Console(record=True, force_terminal=True, width=100)
    monkeypatch.setattr(rich, "_console", terminal)  # what progress bars draw on
    model = load("mock/engine")
    requests = [LoglikelihoodRequest("대한민국의 수도는", " 서울")]
    results, _ = run_loglikelihood(model, requests, chunk=8, cache=None, progress=True)
    generations, _ = run_generation(model, [], chunk=8, cache=None, progress=True)
    assert len(results) == 1 and generations == []
    drawn = terminal.export_text()
    assert "scoring" in drawn
    assert "generating" not in drawn
