"""Fixtures for backend tests: scripted fault servers on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack

import pytest
from tests.models.servers import Fault, FaultServer


@pytest.fixture
def fault_server() -> Iterator[Callable[..., FaultServer]]:
    """Start ``FaultServer(faults, delay=...)`` instances; all are stopped after the test."""
    with ExitStack() as stack:

        def start(faults: Sequence[Fault] = (), *, delay: float = 0.0) -> FaultServer:
            return stack.enter_context(FaultServer(faults, delay=delay))

        yield start
