"""What a built checkpoint says about itself: its model card (``README.md``, with the
inputs' paths and hashes and haechi's version) and the mergekit YAML that builds the same
tensors, for up-scaled and for merged models."""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from haechi import __version__
from haechi.build.checkpoint_io import OUTPUT_DTYPES

if TYPE_CHECKING:
    from haechi.build.checkpoint_io import Checkpoint
    from haechi.build.merge import MergePlan
    from haechi.build.upscale import UpscalePlan

# safetensors dtype codes → the names mergekit's ``dtype`` accepts
TORCH_DTYPES = {code: name for name, code in OUTPUT_DTYPES.items()}


def recipe_text(what: str, recipe: dict[str, object]) -> str:
    """A mergekit YAML with a header saying what it builds and how to run it."""
    header = (
        f"# {what};\n# written by haechi {__version__}. Run: mergekit-yaml mergekit.yaml OUT_DIR\n"
    )
    return header + yaml.safe_dump(recipe, sort_keys=False, default_flow_style=None)


def single_dtype(dtypes: tuple[str, ...]) -> str | None:
    """mergekit's name for the one floating dtype of every tensor; None for a mixture."""
    return TORCH_DTYPES.get(dtypes[0]) if len(dtypes) == 1 else None


def source_rows(role: str, checkpoint: Checkpoint, config_sha256: str) -> list[tuple[str, str]]:
    """Card rows that pin an input checkpoint: its path, config hash and weights listing hash."""
    listing = checkpoint.listing.name
    what = "file" if listing.endswith(".json") else "header"
    return [
        (role, f"`{checkpoint.directory.resolve()}`"),
        (f"{role} `config.json` sha256", f"`{config_sha256}`"),
        (f"{role} `{listing}` {what} sha256", f"`{checkpoint.listing_sha256}`"),
    ]


def render_card(name: str, tags: tuple[str, ...], intro: str, rows: list[tuple[str, str]],
                body: str) -> str:  # fmt: skip
    """The README.md of a built checkpoint: front matter, intro, a facts table, the body."""
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    tag_lines = "\n".join(f"- {tag}" for tag in ("haechi", *tags))
    return f"""---
library_name: transformers
tags:
{tag_lines}
---

# {name}

{intro}

| | |
|---|---|
{table}

{body}"""


def mergekit_recipe(plan: UpscalePlan) -> str:
    """The mergekit ``passthrough`` YAML that builds the same model from the same base.

    ``dtype`` is set only when every tensor has one floating dtype, so that mergekit
    keeps the bytes unchanged.
    """
    n, m = plan.base_layers, plan.removed
    base = str(plan.source.resolve())
    recipe: dict[str, object] = {
        "slices": [
            {"sources": [{"model": base, "layer_range": [0, n - m]}]},
            {"sources": [{"model": base, "layer_range": [m, n]}]},
        ],
        "merge_method": "passthrough",
    }
    dtype = single_dtype(plan.dtypes)
    if dtype is not None:
        recipe["dtype"] = dtype
    what = f"SOLAR depth up-scaling (M={m}) of a {n}-layer base as a mergekit passthrough merge"
    return recipe_text(what, recipe)


def model_card(plan: UpscalePlan, name: str) -> str:
    """A README.md recording the base (path and hashes), n, M, the recipe and haechi's version."""
    n, m = plan.base_layers, plan.removed
    layers = len(plan.layer_map)
    fields = ", ".join(f"`{f}`" for f in plan.config_fields)
    per_layer = [f"`{f}`" for f in plan.config_fields if f != "num_hidden_layers"]
    mergekit_note = (
        f" mergekit 0.1.5 rewrites only `num_hidden_layers`, not {', '.join(per_layer)}:"
        " the `config.json` here is the one to use."
        if per_layer
        else ""
    )
    dropped = (
        f"\nThe base's `{'`, `'.join(plan.dropped)}` was not written: the embeddings are tied.\n"
        if plan.dropped
        else ""
    )
    rows = [
        *source_rows("base model", plan.checkpoint, plan.config_sha256),
        ("model type", f"`{plan.model_type}`"),
        ("base layers n", str(n)),
        ("layers removed from each copy M", str(m)),
        ("layers 2(n−M)", str(layers)),
        ("tied embeddings", "yes" if plan.tied_embeddings else "no"),
        ("tensor dtypes", ", ".join(plan.dtypes)),
        ("built by", f"haechi {__version__} (`haechi build upscale`)"),
    ]
    intro = """A depth up-scaled (DUS) model built as in SOLAR 10.7B (Kim et al., 2023,
[arXiv:2312.15166](https://arxiv.org/abs/2312.15166)) from the base below."""
    return render_card(
        name,
        ("depth-up-scaling", "merge"),
        intro,
        rows,
        f"""## Recipe

1. Take two copies of the {n}-layer base.
2. Drop the last {m} layers of the first copy (keeping base layers 0–{n - m - 1}) and the
   first {m} layers of the second copy (keeping base layers {m}–{n - 1}).
3. Stack them: new layers 0–{n - m - 1} are base layers 0–{n - m - 1}, new layers
   {n - m}–{layers - 1} are base layers {m}–{n - 1}.
4. Embeddings, final norm and lm_head are the base's. Every tensor is a byte-for-byte
   copy of a base tensor; nothing is averaged or trained.
{dropped}
`config.json` is the base's with these fields rewritten for the new layer order: {fields}.
The same layer recipe, as a mergekit passthrough merge, is in `mergekit.yaml`.{mergekit_note}

SOLAR continues pre-training after up-scaling; this checkpoint is the up-scaled
initialisation only, and is expected to score below the base until it is trained.
""",
    )


def _merge_inputs(plan: MergePlan) -> tuple[list[dict[str, object]], str | None]:
    """mergekit's ``models`` list (the base first, without parameters) and ``base_model``."""
    base = str(plan.base.directory.resolve()) if plan.base is not None else None
    models: list[dict[str, object]] = [{"model": base}] if base else []
    for source, params in zip(plan.models, plan.config.per_model, strict=True):
        entry: dict[str, object] = {"model": str(source.directory.resolve())}
        if params:
            entry["parameters"] = dict(params)
        models.append(entry)
    return models, base


def merge_recipe(plan: MergePlan) -> str:
    """The mergekit YAML of the same merge (absolute paths; ``dtype`` when the output has
    one). It has no ``seed``: mergekit's DARE draws from torch's global generator."""
    config = plan.config
    models, base = _merge_inputs(plan)
    recipe: dict[str, object] = {"models": models, "merge_method": config.method}
    if base:
        recipe["base_model"] = base
    if config.shared:
        recipe["parameters"] = dict(config.shared)
    dtype = single_dtype(plan.dtypes)
    if dtype is not None:
        recipe["dtype"] = dtype
    return recipe_text(
        f"{config.method} merge of {len(plan.models)} model(s), for mergekit", recipe
    )


def resolved_config(plan: MergePlan) -> str:
    """haechi's own merge YAML with every default filled in: ``haechi build merge`` on it
    builds the same tensors again."""
    config = plan.config
    models, base = _merge_inputs(plan)
    data: dict[str, object] = {"models": models, "merge_method": config.method}
    if base:
        data["base_model"] = base
    data["parameters"] = dict(config.shared)
    if config.dtype:
        data["dtype"] = config.dtype
    data["seed"] = config.seed
    return recipe_text(f"the resolved configuration of this {config.method} merge", data).replace(
        "Run: mergekit-yaml mergekit.yaml OUT_DIR",
        "Run: haechi build merge merge.yaml --out OUT_DIR",
    )


def merge_card(plan: MergePlan, name: str, weights: tuple[str, ...]) -> str:
    """A README.md recording every input (path, hashes of its config, listing and weights),
    the method and its parameters. ``weights``: one digest per input, the models in order
    and then the base (``merge._Digests``)."""
    config, method = plan.config, plan.config.spec
    rows: list[tuple[str, str]] = [("merge method", f"`{config.method}` ({method.reference})")]
    weights_row = "weights sha256 (per-tensor digests by name)"
    if plan.base is not None:
        rows += source_rows("base model", plan.base.checkpoint, plan.base.config_sha256)
        rows.append((f"base model {weights_row}", f"`{weights[-1]}`"))
    for i, (source, params) in enumerate(zip(plan.models, config.per_model, strict=True), 1):
        rows += source_rows(f"model {i}", source.checkpoint, source.config_sha256)
        rows.append((f"model {i} {weights_row}", f"`{weights[i - 1]}`"))
        if params:
            rows.append(
                (f"model {i} parameters", ", ".join(f"{k} = {v}" for k, v in params.items()))
            )
    if config.shared:
        rows.append(("parameters", ", ".join(f"{k} = {v}" for k, v in config.shared.items())))
    if config.method.startswith("dare"):
        rows.append(("seed (DARE's draws)", str(config.seed)))
    rows += [
        ("tensors", f"{len(plan.tensors)}, dtypes {', '.join(plan.dtypes)}"),
        ("built by", f"haechi {__version__} (`haechi build merge`)"),
    ]
    reference = plan.reference.directory.resolve()
    dare = (
        "\nDARE keeps each task-vector entry with probability `density`, drawn from a generator\n"
        "seeded per tensor and model from the seed above; mergekit draws differently, so its\n"
        "DARE merge of `mergekit.yaml` differs from this one entry by entry.\n"
        if config.method.startswith("dare")
        else ""
    )
    intro = f"A `{config.method}` merge of {len(plan.models)} model(s) built by haechi."
    return render_card(
        name,
        ("merge",),
        intro,
        rows,
        f"""## Recipe

`merge.yaml` is the full configuration (defaults filled in); `haechi build merge merge.yaml
--out OUT_DIR` builds the same tensors again. `mergekit.yaml` is the same merge for
mergekit-yaml. Every tensor was merged in float32 from the same tensor of each input and
cast to its output dtype. `config.json` and the tokenizer files are those of `{reference}`.
{dare}""",
    )
