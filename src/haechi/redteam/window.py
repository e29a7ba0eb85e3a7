"""A bounded in-flight window: the target works on the next attempts while the last ones are
judged and stored, and a slow answer holds up only its own slot, never a whole chunk.

``Window`` sends work items through ``call`` from worker threads that pull from one shared
queue, and hands back what finished as it comes. At most ``workers × batch`` items are in
flight. Two shapes, for the two kinds of backend (``haechi.models.serves_concurrent_calls``):

- ``workers=N, batch=1`` for a backend that serves concurrent calls (an HTTP server): each
  slot takes the next item the moment its answer is back;
- ``workers=1, batch=N`` for one that batches a call itself (``hf``, ``vllm``): the next batch
  generates while the caller judges and stores the previous one.

``stop`` (the token budget) is asked before each item is taken, so what is sent after it
holds is only what was already in flight. A failed call stops the taking too; the others
in flight finish and are handed back, then ``finished`` raises that failure.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Done(Generic[T, R]):
    """One call's items, their results (same order) and the call's duration in seconds."""

    items: list[T]
    results: list[R]
    seconds: float


_EXIT = object()  # a worker's last message


class Window(Generic[T, R]):
    """Workers sending ``items`` through ``call``; use as a context manager, read
    ``finished()``. Leaving the block early (an error, Ctrl-C) takes nothing more; calls in
    flight end on their own (daemon threads: a stuck server cannot keep the process up)."""

    def __init__(
        self,
        items: Sequence[T],
        call: Callable[[list[T]], Sequence[R]],
        *,
        workers: int,
        batch: int = 1,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        if workers < 1 or batch < 1:
            raise ValueError(f"a window needs workers >= 1 and batch >= 1, got {workers}, {batch}")
        self._items = list(items)
        self._call = call
        self._batch = batch
        self._stop = stop or (lambda: False)
        self._taken = 0
        self._lock = threading.Lock()
        self._closed = False
        self._error: BaseException | None = None
        self._out: queue.SimpleQueue[Done[T, R] | object] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"haechi-window-{i}", daemon=True)
            for i in range(min(workers, max(1, -(-len(self._items) // batch))))
        ]
        self.stopped = False
        """Whether ``stop`` held while items were left (they were not sent)."""

    def __enter__(self) -> Window[T, R]:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._closed = True

    def finished(self) -> Iterator[list[Done[T, R]]]:
        """Every finished call as it comes, grouped: each group is all that was back when
        the caller asked, so a slow caller gets fewer, larger groups. Raises the first
        failed call's error once the other workers are done."""
        running = len(self._threads)
        while running:
            group: list[Done[T, R]] = []
            message = self._out.get()
            while True:
                if message is _EXIT:
                    running -= 1
                else:
                    group.append(message)  # type: ignore[arg-type]
                try:
                    message = self._out.get_nowait()
                except queue.Empty:
                    break
            if group:
                yield group
        if self._error is not None:
            raise self._error

    @property
    def remaining(self) -> int:
        """Items not taken (none once every one was sent)."""
        return len(self._items) - self._taken

    def _take(self) -> list[T]:
        with self._lock:
            if self._closed or self._error is not None or self._taken >= len(self._items):
                return []
            if self._stop():
                self.stopped = True
                return []
            chunk = self._items[self._taken : self._taken + self._batch]
            self._taken += len(chunk)
            return chunk

    def _work(self) -> None:
        try:
            while chunk := self._take():
                started = time.perf_counter()
                results = list(self._call(chunk))
                if len(results) != len(chunk):
                    raise RuntimeError(f"{len(chunk)} items sent, {len(results)} results back")
                self._out.put(Done(chunk, results, time.perf_counter() - started))
        except BaseException as exc:  # handed to the reader, who raises it
            with self._lock:
                self._error = self._error or exc
        finally:
            self._out.put(_EXIT)
