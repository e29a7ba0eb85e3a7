"""Data-parallel replicas on real Ray (a local instance, and a `ray start` cluster on
loopback): the same numbers as one process, resume per shard, the run's record."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rich
from rich.console import Console

from haechi.evaluate import EvalConfig, ResponseCache, evaluate
from haechi.evaluate.cache import encode_loglikelihood, loglikelihood_key
from haechi.evaluate.execute import run_loglikelihood
from haechi.evaluate.replicas import RayReplicas
from haechi.evaluate.shards import prefix_text, shard_chunks
from haechi.models import GenerationRequest, LoglikelihoodRequest, load

TASKS = ["ko_arc", "ko_hellaswag", "kobest_copa"]


@pytest.fixture(scope="module")
def replicas(tiny_llama_dir: Path) -> Iterator[RayReplicas]:
    """Two replicas of the tiny Llama on a local Ray started for them (and stopped after)."""
    pytest.importorskip("ray")
    with RayReplicas(f"hf/{tiny_llama_dir}", {}, replicas=2) as model:
        yield model


def samples(folder: Path, task: str) -> list[dict[str, object]]:
    lines = (folder / f"samples_{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def assert_same_results(single: Path, replicated: Path) -> None:
    """Per-choice log-likelihoods within 1e-5 (or two float32 steps: at -157 nats one step
    is 1.5e-5, and rows packed otherwise sum in another order) and identical metrics."""
    for task in TASKS:
        one, many = samples(single, task), samples(replicated, task)
        assert [s["doc_id"] for s in one] == [s["doc_id"] for s in many]
        for a, b in zip(one, many, strict=True):
            assert b["loglikelihoods"] == pytest.approx(a["loglikelihoods"], abs=1e-5, rel=2.4e-7)
    results = [
        json.loads((d / "results.json").read_text())["results"] for d in (single, replicated)
    ]
    assert results[0] == results[1]


@pytest.mark.slow
def test_two_replicas_give_one_process_numbers(
    replicas: RayReplicas, tiny_llama_dir: Path, tmp_path: Path
) -> None:
    config = dict(tasks=TASKS, samples=True, num_fewshot=2, chunk_size=8, log_samples=True)
    evaluate(
        load(f"hf/{tiny_llama_dir}"), EvalConfig(**config, output=tmp_path / "one"), progress=False
    )
    report = evaluate(replicas, EvalConfig(**config, output=tmp_path / "two"), progress=False)
    assert_same_results(tmp_path / "one", tmp_path / "two")
    recorded = report.document["config"]
    assert recorded["data_parallel"] == 2 and recorded["ray_address"] is None
    assert recorded["model_fingerprint"] == load(f"hf/{tiny_llama_dir}").fingerprint
    stats = report.document["stats"]
    assert stats["loglikelihood_requests"] == stats["requests"] > 0
    # shards hold whole prefix trees: the replicas together forward no more than one process
    one = json.loads((tmp_path / "one" / "results.json").read_text())["stats"]
    assert 0 < stats["forwarded_tokens"] <= one["forwarded_tokens"]


@pytest.mark.slow
def test_greedy_generations_match_one_process(replicas: RayReplicas, tiny_llama_dir: Path) -> None:
    requests = [
        GenerationRequest(prompt=p, max_new_tokens=6)
        for p in ("대한민국의 수도는", "한국어 문장을 하나 쓰면", "The capital of Korea is")
    ]
    single = load(f"hf/{tiny_llama_dir}").generate(requests)
    assert [g.texts for g in replicas.generate(requests)] == [g.texts for g in single]


@pytest.mark.slow
def test_a_shard_in_the_cache_is_not_recomputed(
    replicas: RayReplicas, tiny_llama_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [
        LoglikelihoodRequest(f"문서 {d}: 오늘의 날씨는 {'맑고 ' * d}", f" {choice}")
        for d in range(6)
        for choice in ("맑음", "흐림", "비")
    ]
    single = load(f"hf/{tiny_llama_dir}")
    expected = single.loglikelihood(requests)
    # what a run killed after replica 0 finished its shard left in the cache
    layout = shard_chunks([prefix_text(r) for r in requests], replicas=2, chunk=4)
    done = [i for c in layout if c.replica == 0 for i in c.indices]
    assert 0 < len(done) < len(requests)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cache.put_many(
        replicas.fingerprint,
        [(loglikelihood_key(requests[i]), encode_loglikelihood(expected[i])) for i in done],
    )
    terminal = Console(record=True, force_terminal=True, width=100)
    monkeypatch.setattr(rich, "_console", terminal)  # what progress bars draw on
    before = replicas.stats.requests
    results, hits = run_loglikelihood(replicas, requests, chunk=4, cache=cache, progress=True)
    assert hits == len(done)
    assert replicas.stats.requests - before == len(requests) - len(done)  # the other shard only
    assert [r.logprob for r in results] == pytest.approx([r.logprob for r in expected], abs=1e-5)
    assert [r.is_greedy for r in results] == [r.is_greedy for r in expected]
    assert cache.count() == len(requests)
    drawn = terminal.export_text()
    assert drawn.count("scoring") >= 1 and f"{len(requests)}/{len(requests)}" in drawn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cluster_pids(temp_dir: str, *, gcs: bool = True) -> list[int]:
    """Processes of the cluster whose session lives in ``temp_dir``: named there on their
    command line (GCS, raylet, monitors) or writing their logs there (agents, workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
            files = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        ours = temp_dir in command or any(f.startswith(temp_dir) for f in files)
        if ours and (gcs or "gcs_server" not in command):
            found.append(int(entry.name))
    return found


def stop_cluster(temp_dir: str) -> None:
    """The raylet and the rest first, while the GCS can still answer their drain; then the
    GCS; anything left after a grace period is killed."""
    for phase in (False, True):
        for pid in cluster_pids(temp_dir, gcs=phase):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while cluster_pids(temp_dir, gcs=phase) and time.monotonic() < deadline:
            time.sleep(0.2)
    for pid in cluster_pids(temp_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def ray_cluster() -> Iterator[str]:
    """A `ray start --head` cluster on loopback, in a temp dir of its own; only its own
    processes are stopped afterwards (`ray stop` would stop every Ray on the machine)."""
    pytest.importorskip("ray")
    ray_bin = Path(sys.executable).with_name("ray")
    temp_dir = tempfile.mkdtemp(prefix="haechi-ray-")  # short: Ray's socket paths must fit
    port = free_port()
    subprocess.run(
        [
            str(ray_bin), "start", "--head", "--node-ip-address", "127.0.0.1",
            "--port", str(port), "--temp-dir", temp_dir, "--num-cpus", "2",
            "--include-dashboard", "false", "--disable-usage-stats",
        ],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_cluster(temp_dir)
        assert cluster_pids(temp_dir) == []
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_cli_on_a_ray_cluster(ray_cluster: str, tiny_llama_dir: Path, tmp_path: Path) -> None:
    common = [
        "--tasks", ",".join(TASKS), "--samples", "--num-fewshot", "2", "--chunk-size", "8",
        "--log-samples", "--no-cache", "--db", str(tmp_path / "runs.db"),
    ]  # fmt: skip
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # `ray start` turns token auth on
    ran = subprocess.run(
        [sys.executable, "-m", "haechi", "eval", "--model", f"hf/{tiny_llama_dir}", *common,
         "--data-parallel", "2", "--ray-address", ray_cluster, "--output", str(tmp_path / "two")],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    evaluate(
        load(f"hf/{tiny_llama_dir}"),
        EvalConfig(tasks=TASKS, samples=True, num_fewshot=2, chunk_size=8, log_samples=True, output=tmp_path / "one"),
        progress=False,
    )  # fmt: skip
    assert_same_results(tmp_path / "one", tmp_path / "two")
    config = json.loads((tmp_path / "two" / "results.json").read_text())["config"]
    assert config["data_parallel"] == 2
    assert config["ray_address"] == ray_cluster
    assert config["replica_resources"] == {"num_cpus": 1}


def test_missing_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from haechi.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees
    with pytest.raises(MissingExtraError, match=r"haechi\[ray\]"):
        RayReplicas("hf/any-model", {}, replicas=2)


def test_placement_on_gpus_and_cores() -> None:
    from haechi.errors import InputError
    from haechi.evaluate.replicas import _placement

    # one GPU per hf replica; a vLLM replica holds its tensor x pipeline parallel GPUs
    assert _placement("hf/m", {}, "auto", {"GPU": 8, "CPU": 64}) == (
        8,
        {"num_gpus": 1, "num_cpus": 1},
    )
    vllm_args = {"tensor_parallel_size": "2", "pipeline_parallel_size": "2"}
    assert _placement("vllm/m", vllm_args, "auto", {"GPU": 8}) == (
        2,
        {"num_gpus": 4, "num_cpus": 1},
    )
    with pytest.raises(InputError, match="do not fit"):
        _placement("vllm/m", vllm_args, 3, {"GPU": 8})
    # no GPU: the cores are shared out, and "auto" asks for a number
    assert _placement("hf/m", {}, 2, {"CPU": 2}) == (2, {"num_cpus": 1})
    assert _placement("hf/m", {}, 3, {"CPU": 16}) == (3, {"num_cpus": 5})
    with pytest.raises(InputError, match="--data-parallel 2"):
        _placement("hf/m", {}, "auto", {"CPU": 2})
