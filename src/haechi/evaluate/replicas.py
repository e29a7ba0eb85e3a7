"""Data-parallel replicas of one model: Ray actors, each holding a whole engine.

Ray places the actors (one GPU each, or ``tensor_parallel_size × pipeline_parallel_size``
GPUs for a vLLM replica, whose own parallelism runs inside it; on a CPU machine an equal
share of the cores) and queues each actor's calls; nothing here schedules or opens sockets.
Without an address a local Ray instance is started for the run (on loopback) and stopped
with it. The driver never loads the model: name, fingerprint and description come from the
replicas, which must agree. ``evaluate/execute.py`` sends each replica its shard's chunks
(``evaluate/shards.py``) and caches every chunk as it comes back, so a killed run resumes
chunk by chunk.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from haechi.errors import BackendError, InputError, MissingExtraError
from haechi.evaluate.shards import prefix_text, shard_chunks
from haechi.models import load, parse_spec
from haechi.models.base import (
    Generation,
    GenerationRequest,
    LanguageModel,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenStats,
)
from haechi.models.http_retry import public_url

Method = Literal["loglikelihood", "generate"]
ReplicaCount = int | Literal["auto"]


@runtime_checkable
class ReplicatedModel(LanguageModel, Protocol):
    """A model run by ``replicas`` copies; ``map_chunks`` runs ``(replica, requests)``
    chunks and yields ``(position, results)`` as each one finishes."""

    replicas: int

    def map_chunks(
        self, method: Method, chunks: Sequence[tuple[int, Sequence[Any]]]
    ) -> Iterator[tuple[int, list[Any]]]: ...

    def placement(self) -> dict[str, object]:
        """What results.json records under ``config``: ``data_parallel`` and where."""
        ...

    def close(self) -> None: ...


class _Replica:
    """One copy of the model, inside a Ray actor."""

    def __init__(self, spec: str, args: dict[str, object]) -> None:
        self.spec, self.args = spec, args
        self.model: LanguageModel | None = None

    def load(self) -> tuple[str, str, dict[str, object]]:
        # loaded here rather than in __init__: a creation error loses its cause in Ray
        self.model = load(self.spec, **self.args)
        return self.model.name, self.model.fingerprint, self.model.describe()

    def run(self, method: Method, requests: list[Any]) -> tuple[list[Any], dict[str, int]]:
        """Results, and what they added to the model's token counters."""
        assert self.model is not None
        before = _counters(self.model.stats)
        results = getattr(self.model, method)(requests)
        after = _counters(self.model.stats)
        return results, {name: after[name] - before[name] for name in after}

    def close(self) -> None:
        close = getattr(self.model, "close", None)
        if close is not None:
            close()  # a vLLM engine's processes must stop before the actor does


def _counters(stats: TokenStats) -> dict[str, int]:
    return {f.name: getattr(stats, f.name) for f in fields(TokenStats)}


class RayReplicas:
    """``replicas`` copies of ``spec`` on a Ray cluster (``address``) or a local Ray."""

    def __init__(
        self,
        spec: str,
        args: dict[str, object],
        *,
        replicas: ReplicaCount = "auto",
        address: str | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtraError("ray", "ray") from None
        spec = _absolute_spec(spec)
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            _start_ray(ray, address, replicas)
        self._actors: list[Any] = []
        self._closed = False
        atexit.register(self.close)
        try:
            count, resources = _placement(spec, args, replicas, ray.cluster_resources())
            actor = ray.remote(_Replica)
            self._actors = [actor.options(**resources).remote(spec, args) for _ in range(count)]
            identities = _gather([a.load.remote() for a in self._actors])
            if len({fingerprint for _, fingerprint, _ in identities}) > 1:
                raise BackendError(
                    f"the replicas of {spec} loaded different models: every node needs the "
                    "same checkpoint at the same path"
                )
        except BaseException:
            self.close()  # no replica or local Ray outlives a failed start
            raise
        self.name, self.fingerprint, self._description = identities[0]
        self.replicas = count
        self.stats = TokenStats()
        self._resources = resources
        self._address = None if address is None else public_url(address)
        self._ray_version = str(ray.__version__)

    def describe(self) -> dict[str, object]:
        return self._description

    def placement(self) -> dict[str, object]:
        return {
            "data_parallel": self.replicas,
            "ray_address": self._address,
            "replica_resources": self._resources,
            "ray_version": self._ray_version,
        }

    def map_chunks(
        self, method: Method, chunks: Sequence[tuple[int, Sequence[Any]]]
    ) -> Iterator[tuple[int, list[Any]]]:
        import ray

        # an actor runs its calls one at a time, in the order sent: its shard, chunk by chunk
        pending = {
            self._actors[replica].run.remote(method, list(requests)): position
            for position, (replica, requests) in enumerate(chunks)
        }
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                results, added = _gather(done)[0]
                for name, value in added.items():
                    setattr(self.stats, name, getattr(self.stats, name) + value)
                yield pending.pop(done[0]), results
        finally:
            for ref in pending:  # stopped early (an error, Ctrl-C): drop the queued chunks
                ray.cancel(ref)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return self._all("loglikelihood", requests)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self._all("generate", requests)

    def _all(self, method: Method, requests: Sequence[Any]) -> list[Any]:
        layout = shard_chunks(
            [prefix_text(r) for r in requests], self.replicas, max(1, len(requests))
        )
        found: list[Any] = [None] * len(requests)
        work = [(c.replica, [requests[i] for i in c.indices]) for c in layout]
        for position, results in self.map_chunks(method, work):
            for index, result in zip(layout[position].indices, results, strict=True):
                found[index] = result
        return found

    def close(self) -> None:
        """Stop the replicas (and the local Ray this started); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        import ray

        try:
            ray.get([a.close.remote() for a in self._actors], timeout=120)
        except ray.exceptions.RayError as exc:
            logging.getLogger(__name__).warning("a replica did not close cleanly: %s", exc)
        finally:
            for a in self._actors:
                ray.kill(a)
            if self._owns_ray:
                ray.shutdown()

    def __enter__(self) -> RayReplicas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_model(
    spec: str,
    args: dict[str, object],
    *,
    data_parallel: ReplicaCount | None = None,
    ray_address: str | None = None,
) -> LanguageModel:
    """``models.load(spec)`` in this process, or replicas on Ray when either option is set
    (``data_parallel`` defaults to ``auto``: one replica per GPU of the cluster)."""
    if data_parallel is None and ray_address is None:
        return load(spec, **args)
    return RayReplicas(spec, args, replicas=data_parallel or "auto", address=ray_address)


def _start_ray(ray: Any, address: str | None, replicas: ReplicaCount) -> None:
    # replicas' own output stays in Ray's session logs; their errors come back as exceptions
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address is None:
        # a private instance on loopback, with a core for every replica even on a small box
        cpus = os.cpu_count() or 1
        if isinstance(replicas, int):
            cpus = max(cpus, replicas)
        options.update(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1")
    else:
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, ray.exceptions.RayError) as exc:
        raise BackendError(
            f"could not connect to the Ray cluster at {public_url(address or 'local')}: {exc} "
            "(a cluster started with token authentication needs RAY_AUTH_MODE=token here)"
        ) from None


def _placement(
    spec: str, args: dict[str, object], replicas: ReplicaCount, cluster: dict[str, float]
) -> tuple[int, dict[str, float]]:
    """How many replicas, and the Ray resources each one holds."""
    gpus = int(cluster.get("GPU", 0))
    if gpus:
        per = 1
        if parse_spec(spec).backend == "vllm":
            per = _int_arg(args, "tensor_parallel_size") * _int_arg(args, "pipeline_parallel_size")
        count = gpus // per if replicas == "auto" else replicas
        if count < 1 or count * per > gpus:
            raise InputError(
                f"{count} replicas of {per} GPU(s) each do not fit the {gpus} GPU(s) of the cluster",
                field="data-parallel",
            )
        return count, {"num_gpus": per, "num_cpus": 1}
    if replicas == "auto":
        raise InputError(
            "--data-parallel auto means one replica per GPU, and the Ray cluster has none",
            field="data-parallel",
            hint="give the number of CPU replicas, e.g. --data-parallel 2",
        )
    return replicas, {"num_cpus": max(1, int(cluster.get("CPU", 1)) // replicas)}


def _int_arg(args: dict[str, object], name: str) -> int:
    value = args.get(name, 1)
    try:
        return int(str(value))
    except ValueError:
        raise InputError(f"{name} must be an integer, got {value!r}", field="model-args") from None


def _absolute_spec(spec: str) -> str:
    """A local model folder named relative to here, made absolute: replicas run elsewhere."""
    parsed = parse_spec(spec)
    local = Path(parsed.target).expanduser()
    if not local.is_absolute() and local.is_dir():
        return f"{parsed.backend}/{local.resolve()}"
    return spec


def _gather(refs: Sequence[Any]) -> list[Any]:
    """``ray.get``, raising a replica's own error (an ``InputError`` stays one) rather
    than Ray's wrapper around it."""
    import ray

    try:
        return list(ray.get(list(refs)))
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, Exception) else None
        if cause is None:
            raise
        raise cause from None
