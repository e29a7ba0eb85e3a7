"""Merging against references written out by hand in torch (float64), and against mergekit.

mergekit runs in its own interpreter (``conftest.mergekit_python``: this one, or a separate
venv named by ``MERGEKIT_PYTHON``). DARE's draws differ from
mergekit's by design, so DARE is compared with mergekit at density 1 only and with the
torch reference (the same seeded draws) below 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from tests.build.conftest import Tiny, build_checkpoint, mergekit_python, needs_mergekit
from tests.build.test_upscale import load_model

from haechi.build.merge import merge_checkpoints, plan_merge
from haechi.build.merge_config import load_merge_config
from haechi.build.merge_methods import dare_generator
from haechi.errors import InputError

Tensors = dict[str, torch.Tensor]


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Tiny], list[Path]]:
    """Four checkpoints of one spec (seeds 0–3: the base and three models), built once."""
    built: dict[Tiny, list[Path]] = {}

    def get(spec: Tiny) -> list[Path]:
        if spec not in built:
            root = tmp_path_factory.mktemp("merge")
            built[spec] = [build_checkpoint(root / f"m{i}", spec, seed=i) for i in range(4)]
        return built[spec]

    return get


def tensors_of(folder: Path) -> Tensors:
    from safetensors.torch import load_file

    found: Tensors = {}
    for shard in sorted(folder.glob("*.safetensors")):
        found.update(load_file(str(shard)))
    return found


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def merged(tmp_path: Path, data: dict[str, Any], name: str = "out") -> Tensors:
    config = load_merge_config(write_config(tmp_path / f"{name}.yaml", data))
    report = merge_checkpoints(config, tmp_path / name, shard_size="30KB")
    return tensors_of(report.out)


def ref_slerp(t: float, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The great-circle point between the tensors as flat vectors (the line if collinear)."""
    x, y = a.reshape(-1), b.reshape(-1)
    cos = float(x @ y / (x.norm() * y.norm()))
    if abs(cos) > 0.9995:
        return (1 - t) * a + t * b
    theta = torch.tensor(cos, dtype=torch.float64).acos()
    return (torch.sin((1 - t) * theta) * a + torch.sin(t * theta) * b) / theta.sin()


def ref_task_vectors(
    name: str,
    base: torch.Tensor,
    models: list[torch.Tensor],
    weights: list[float],
    densities: list[float],
    *,
    prune: str | None,
    elect: bool,
    normalize: bool,
    rescale: bool,
    seed: int = 0,
) -> torch.Tensor:
    """TIES / DARE / task arithmetic as their papers describe them, in float64."""
    deltas = []
    for i, (model, density) in enumerate(zip(models, densities, strict=True)):
        delta = model - base
        if prune == "magnitude" and density < 1:
            k = max(1, int(density * delta.numel()))
            keep = torch.zeros(delta.numel(), dtype=delta.dtype)
            keep[delta.abs().reshape(-1).topk(k).indices] = 1
            pruned = delta * keep.reshape(delta.shape)
        elif prune == "random" and density < 1:
            draws = torch.full(delta.shape, density, dtype=torch.float32)
            keep = torch.bernoulli(draws, generator=dare_generator(seed, name, i))
            pruned = delta * keep.double()
        else:
            pruned = delta
        if rescale and density < 1 and pruned.abs().sum() > 0:
            pruned = pruned * delta.abs().sum() / pruned.abs().sum()
        deltas.append(pruned * weights[i])
    stacked = torch.stack(deltas)
    w = torch.tensor(weights, dtype=torch.float64).reshape(-1, *[1] * base.ndim)
    if elect:
        sign = torch.where(stacked.sum(0) >= 0, 1.0, -1.0).double()
        agree = torch.sign(stacked) == sign
        total, divisor = (stacked * agree).sum(0), (w * agree).sum(0)
        divisor[divisor == 0] = 1
    else:
        total, divisor = stacked.sum(0), w.sum(0)
    return base + (total / divisor if normalize else total)


def test_linear_is_the_weighted_mean(family: Callable[[Tiny], list[Path]], tmp_path: Path) -> None:
    spec = Tiny("llama", layers=2, sharded=True)
    _, *models = family(spec)
    weights = [0.5, 0.3, 0.2]
    out = merged(tmp_path, {
        "models": [{"model": str(m), "parameters": {"weight": w}} for m, w in zip(models, weights, strict=True)],
        "merge_method": "linear",
    })  # fmt: skip
    inputs = [tensors_of(m) for m in models]
    assert set(out) == set(inputs[0])
    for name, got in out.items():
        want = sum(w * t[name].double() for w, t in zip(weights, inputs, strict=True))
        torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=0)
    # without normalize the weights are not divided out
    raw = merged(tmp_path, {
        "models": [{"model": str(m), "parameters": {"weight": 2 * w}} for m, w in zip(models, weights, strict=True)],
        "merge_method": "linear", "parameters": {"normalize": False},
    }, "raw")  # fmt: skip
    for name, got in raw.items():
        torch.testing.assert_close(got, 2 * out[name], atol=1e-6, rtol=0)


def test_slerp_follows_the_great_circle(
    family: Callable[[Tiny], list[Path]], tmp_path: Path
) -> None:
    base, other, *_ = family(Tiny("llama", layers=2))
    for t in (0.0, 0.3, 1.0):
        out = merged(tmp_path, {
            "models": [{"model": str(base)}, {"model": str(other)}],
            "merge_method": "slerp", "base_model": str(base), "parameters": {"t": t},
        }, f"t{t}")  # fmt: skip
        a, b = tensors_of(base), tensors_of(other)
        for name, got in out.items():
            want = ref_slerp(t, a[name].double(), b[name].double())
            torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=0, msg=name)
        if t in (0.0, 1.0):
            assert all(torch.equal(got, (a if t == 0 else b)[n]) for n, got in out.items())


@pytest.mark.parametrize(
    ("method", "prune", "elect", "normalize", "rescale"),
    [
        ("task_arithmetic", None, False, False, False),
        ("ties", "magnitude", True, True, False),
        ("dare_ties", "random", True, False, True),
        ("dare_linear", "random", False, False, True),
    ],
)
def test_task_vector_methods_match_the_reference(
    method: str,
    prune: str | None,
    elect: bool,
    normalize: bool,
    rescale: bool,
    family: Callable[[Tiny], list[Path]],
    tmp_path: Path,
) -> None:
    base, *models = family(Tiny("llama", layers=2))
    weights, densities = [0.6, 0.3, 0.5], [0.5, 0.8, 0.3]
    entries = [{"model": str(m), "parameters": {"weight": w, "density": d}}
               for m, w, d in zip(models, weights, densities, strict=True)]  # fmt: skip
    if method == "task_arithmetic":
        entries = [{"model": e["model"], "parameters": {"weight": e["parameters"]["weight"]}}
                   for e in entries]  # fmt: skip
        densities = [1.0] * 3
    data = {"models": entries, "merge_method": method, "base_model": str(base), "seed": 7}
    out = merged(tmp_path, data)
    b, inputs = tensors_of(base), [tensors_of(m) for m in models]
    for name, got in out.items():
        want = ref_task_vectors(
            name, b[name].double(), [t[name].double() for t in inputs], weights, densities,
            prune=prune, elect=elect, normalize=normalize, rescale=rescale, seed=7,
        )  # fmt: skip
        torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=0, msg=name)
    if prune == "random":
        # the seed decides the draws: the same seed, the same tensors; another, others
        again = merged(tmp_path, data, "again")
        assert all(torch.equal(again[n], t) for n, t in out.items())
        other = merged(tmp_path, {**data, "seed": 8}, "other")
        assert not torch.equal(other["model.layers.0.mlp.up_proj.weight"],
                               out["model.layers.0.mlp.up_proj.weight"])  # fmt: skip


def test_dare_keeps_about_density_of_each_task_vector(tmp_path: Path) -> None:
    generator = dare_generator(0, "t", 0)
    kept = torch.bernoulli(torch.full((200_000,), 0.3), generator=generator).mean()
    assert abs(float(kept) - 0.3) < 0.005
    first = torch.bernoulli(torch.full((64,), 0.5), generator=dare_generator(0, "t", 1))
    assert not torch.equal(
        first, torch.bernoulli(torch.full((64,), 0.5), generator=dare_generator(0, "u", 1))
    )


def test_output_loads_records_its_inputs_and_rebuilds_from_merge_yaml(
    family: Callable[[Tiny], list[Path]], tmp_path: Path
) -> None:
    base, a, b, _ = family(Tiny("qwen2", layers=2, tied=True, sharded=True))
    config = load_merge_config(write_config(tmp_path / "m.yaml", {
        "models": [{"model": str(a), "parameters": {"weight": 1.0, "density": 0.5}},
                   {"model": str(b), "parameters": {"weight": 0.5}}],
        "merge_method": "dare_ties", "base_model": str(base), "dtype": "bfloat16",
    }))  # fmt: skip
    report = merge_checkpoints(config, tmp_path / "out", shard_size="30KB")
    out = report.out
    assert len(report.shards) > 1 and report.tensors == len(tensors_of(out))
    assert all(t.dtype == torch.bfloat16 for t in tensors_of(out).values())
    model = load_model(out, "bfloat16")
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert (out / "tokenizer_config.json").read_bytes() == (
        base / "tokenizer_config.json"
    ).read_bytes()

    card = (out / "README.md").read_text()
    for fact in (str(base.resolve()), str(a.resolve()), "weight = 1.0, density = 0.5",
                 "weight = 0.5, density = 1.0", "seed (DARE's draws) | 0", "haechi 0.1.0"):  # fmt: skip
        assert fact in card, fact
    digests = [line.split("`")[-2] for line in card.splitlines() if "weights sha256" in line]
    assert len(set(digests)) == 3  # base, a, b: the weights differ, so do their hashes
    recipe = yaml.safe_load((out / "mergekit.yaml").read_text())
    assert recipe["merge_method"] == "dare_ties" and recipe["dtype"] == "bfloat16"
    assert recipe["models"][0] == {"model": str(base.resolve())} and "seed" not in recipe
    assert recipe["parameters"] == {"lambda": 1.0, "int8_mask": False, "normalize": False,
                                    "rescale": True}  # fmt: skip

    again = merge_checkpoints(load_merge_config(out / "merge.yaml"), tmp_path / "again")
    first, second = tensors_of(out), tensors_of(again.out)
    assert all(torch.equal(first[n], second[n]) for n in first)


@pytest.mark.parametrize(
    ("change", "message", "field", "line"),
    [
        ("method", "unknown merge method 'average'", "merge_method", 5),
        ("no-weight", "linear needs 'weight' for every model", "models.1", 4),
        (
            "unknown-param",
            "linear has no per-model parameter 'densty'",
            "models.0.parameters.densty",
            3,
        ),
        ("gradient", "gradients and filters are not supported", "parameters.t", 6),
        ("slerp-three", "slerp merges exactly 1 model(s) besides the base, got 2", "models", 1),
        ("linear-base", "linear does not use a base_model", "base_model", 6),
        ("ties-no-base", "ties needs a base_model", "merge_method", 4),
        ("density", "density must be between 0 and 1", "models.0.parameters.density", 3),
        ("extra-key", "Extra inputs are not permitted", "slices", 6),
    ],
)
def test_bad_config_names_file_line_and_field(
    change: str, message: str, field: str, line: int, family: Callable[[Tiny], list[Path]],
    tmp_path: Path,
) -> None:  # fmt: skip
    base, a, b, _ = family(Tiny("llama", layers=2))
    text = {
        "method": f"models:\n- model: {a}\n  parameters: {{weight: 1}}\nmerge_method: average\n",
        "no-weight": f"models:\n- model: {a}\n  parameters: {{weight: 1}}\n- model: {b}\nmerge_method: linear\n",
        "unknown-param": f"models:\n- model: {a}\n  parameters: {{weight: 1, densty: 0.5}}\nmerge_method: linear\n",
        "gradient": f"models:\n- model: {a}\nmerge_method: slerp\nbase_model: {base}\nparameters:\n  t: [0, 0.5, 1]\n",
        "slerp-three": f"models:\n- model: {a}\n- model: {b}\nmerge_method: slerp\nbase_model: {base}\nparameters: {{t: 0.5}}\n",
        "linear-base": f"models:\n- model: {a}\n  parameters: {{weight: 1}}\nmerge_method: linear\n\nbase_model: {base}\n",
        "ties-no-base": f"models:\n- model: {a}\n  parameters: {{weight: 1}}\nmerge_method: ties\n",
        "density": f"models:\n- model: {a}\n  parameters: {{weight: 1, density: 1.5}}\nmerge_method: ties\nbase_model: {base}\n",
        "extra-key": f"models:\n- model: {a}\n  parameters: {{weight: 1}}\nmerge_method: linear\n\nslices: []\n",
    }[change]
    if change == "method":
        text = "\n" + text
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_merge_config(path)
    assert message in str(caught.value)
    assert caught.value.file == str(path) and caught.value.field == field
    assert caught.value.line == line, (caught.value.line, text)


def test_models_of_different_shapes_or_tensors_are_refused(
    family: Callable[[Tiny], list[Path]], tmp_path: Path
) -> None:
    small = family(Tiny("llama", layers=2))[1]
    deep = family(Tiny("llama", layers=3))[1]
    import shutil

    from safetensors.torch import save_file

    other = tmp_path / "wide"
    shutil.copytree(small, other)
    tensors = tensors_of(small)
    tensors["model.layers.0.mlp.up_proj.weight"] = torch.zeros(48, 32)
    save_file(tensors, str(other / "model.safetensors"), metadata={"format": "pt"})
    for odd, message in (
        (deep, "do not hold the same tensors"),
        (other, "shape [48, 32], but [64, 32]"),
    ):
        config = load_merge_config(write_config(tmp_path / "c.yaml", {
            "models": [{"model": str(small), "parameters": {"weight": 1}},
                       {"model": str(odd), "parameters": {"weight": 1}}],
            "merge_method": "linear",
        }))  # fmt: skip
        with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
            plan_merge(config)
    assert not (tmp_path / "out").exists()


def test_cli_checks_memory_before_the_first_tensor(
    family: Callable[[Tiny], list[Path]], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from haechi.cli.build_cmd import app

    base, a, b, _ = family(Tiny("llama", layers=2))
    path = write_config(tmp_path / "ties.yaml", {
        "models": [{"model": str(a), "parameters": {"weight": 0.5, "density": 0.5}},
                   {"model": str(b), "parameters": {"weight": 0.5}}],
        "merge_method": "ties", "base_model": str(base),
    })  # fmt: skip
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    refused = CliRunner().invoke(app, ["merge", str(path), "--out", str(tmp_path / "x"),
                                       "--memory-limit", "1MB"], env=env)  # fmt: skip
    assert isinstance(refused.exception, InputError) and "more than the 1 MiB" in str(
        refused.exception
    )
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()
    done = CliRunner().invoke(app, ["merge", str(path), "--out", str(tmp_path / "x")], env=env)
    assert done.exit_code == 0, done.output
    assert "memory: about" in done.output and "peak memory growth" in done.output
    assert (tmp_path / "x" / "mergekit.yaml").exists()


# mergekit ------------------------------------------------------------------------------


MERGEKIT_CASES = {
    "linear": ("linear", None, {"normalize": True}, [0.5, 0.3, 0.2], [None] * 3),
    "linear-raw": ("linear", None, {"normalize": False}, [0.5, 0.7, -0.2], [None] * 3),
    "slerp": ("slerp", "base", {"t": 0.3}, [None], [None]),
    "task_arithmetic": ("task_arithmetic", "base", {"lambda": 0.8}, [0.6, 0.3, 0.5], [None] * 3),
    "ties": ("ties", "base", {}, [0.6, 0.3, 0.5], [0.5, 0.8, 0.3]),
    "ties-rescaled": (
        "ties",
        "base",
        {"rescale": True, "normalize": False},
        [1.0, 0.5, 0.5],
        [0.4, 0.9, 0.2],
    ),
    "dare_ties-density1": ("dare_ties", "base", {}, [0.6, 0.3, 0.5], [1.0] * 3),
    "dare_linear-density1": (
        "dare_linear",
        "base",
        {"normalize": True},
        [0.6, 0.3, 0.5],
        [1.0] * 3,
    ),
}


@pytest.mark.slow
@needs_mergekit
@pytest.mark.parametrize("case", list(MERGEKIT_CASES))
def test_mergekit_builds_the_same_tensors_from_our_recipe(
    case: str, family: Callable[[Tiny], list[Path]], tmp_path: Path
) -> None:
    method, base_role, shared, weights, densities = MERGEKIT_CASES[case]
    base, *models = family(Tiny("llama", layers=2, sharded=True))
    entries = []
    for model, weight, density in zip(models, weights, densities, strict=False):
        params = {k: v for k, v in (("weight", weight), ("density", density)) if v is not None}
        entries.append({"model": str(model), **({"parameters": params} if params else {})})
    data: dict[str, Any] = {"models": entries, "merge_method": method, "parameters": shared,
                            "dtype": "float32"}  # fmt: skip
    if base_role:
        data["base_model"] = str(base)
    config = load_merge_config(write_config(tmp_path / "m.yaml", data))
    ours = merge_checkpoints(config, tmp_path / "ours").out
    python = mergekit_python()
    assert python is not None
    run = subprocess.run(
        [python, "-m", "mergekit.scripts.run_yaml", str(ours / "mergekit.yaml"),
         str(tmp_path / "theirs"), "--no-copy-tokenizer"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    mine, theirs = tensors_of(ours), tensors_of(tmp_path / "theirs")
    assert set(theirs) == set(mine)
    for name, tensor in theirs.items():
        torch.testing.assert_close(mine[name], tensor, atol=1e-6, rtol=0, msg=name)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_peak_memory_is_a_few_tensors_not_the_models(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    # three 104 MiB float32 checkpoints of 26 tensors of 4 MiB each
    generator = torch.Generator().manual_seed(0)
    for i in range(3):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        (folder / "config.json").write_text('{"model_type": "llama"}')
        tensors = {f"model.layers.{k}.weight": torch.randn(1024, 1024, generator=generator)
                   for k in range(26)}  # fmt: skip
        save_file(tensors, str(folder / "model.safetensors"))
        del tensors
    path = write_config(tmp_path / "ties.yaml", {
        "models": [{"model": "m1", "parameters": {"weight": 0.5, "density": 0.5}},
                   {"model": "m2", "parameters": {"weight": 0.5, "density": 0.5}}],
        "merge_method": "ties", "base_model": "m0",
    })  # fmt: skip
    # VmHWM in a fresh process: this one's peak is already higher than a merge's
    child = """
import sys
from pathlib import Path
import torch, safetensors.torch
from haechi.build.merge import merge_checkpoints, plan_merge
from haechi.build.merge_config import load_merge_config

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

config = load_merge_config(Path(sys.argv[1]))
plan = plan_merge(config)
before = hwm()
report = merge_checkpoints(config, Path(sys.argv[2]))
print(hwm() - before, plan.working_bytes)
"""
    run = subprocess.run(
        [sys.executable, "-c", child, str(path), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    growth, estimate = (int(v) for v in run.stdout.split()[-2:])
    largest, inputs = 4 * 2**20, 3 * 104 * 2**20
    assert estimate == (2 * 2 + 13) * largest
    # glibc's heap and torch's first calls add to the tensors (65–106 MiB seen here)
    assert growth < 2 * estimate, (
        f"grew {growth / 2**20:.0f} MiB, estimate {estimate / 2**20:.0f} MiB"
    )
    assert growth < 0.4 * inputs
