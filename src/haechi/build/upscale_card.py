"""What an up-scaled checkpoint says about itself: its model card and mergekit recipe."""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from haechi import __version__

if TYPE_CHECKING:
    from haechi.build.upscale import UpscalePlan

# safetensors dtype codes → the names mergekit's ``dtype`` accepts
_TORCH_DTYPES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


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
    if len(plan.dtypes) == 1 and plan.dtypes[0] in _TORCH_DTYPES:
        recipe["dtype"] = _TORCH_DTYPES[plan.dtypes[0]]
    header = (
        f"# SOLAR depth up-scaling (M={m}) of a {n}-layer base as a mergekit passthrough merge;\n"
        f"# written by haechi {__version__}. Run: mergekit-yaml mergekit.yaml OUT_DIR\n"
    )
    return header + yaml.safe_dump(recipe, sort_keys=False, default_flow_style=None)


def model_card(plan: UpscalePlan, name: str) -> str:
    """A README.md recording the base (path and hashes), n, M, the recipe and haechi's version."""
    n, m = plan.base_layers, plan.removed
    layers = len(plan.layer_map)
    listing = plan.checkpoint.listing.name
    what = "file" if listing.endswith(".json") else "header"
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
        ("base model", f"`{plan.source.resolve()}`"),
        ("base `config.json` sha256", f"`{plan.config_sha256}`"),
        (f"base `{listing}` {what} sha256", f"`{plan.checkpoint.listing_sha256}`"),
        ("model type", f"`{plan.model_type}`"),
        ("base layers n", str(n)),
        ("layers removed from each copy M", str(m)),
        ("layers 2(n−M)", str(layers)),
        ("tied embeddings", "yes" if plan.tied_embeddings else "no"),
        ("tensor dtypes", ", ".join(plan.dtypes)),
        ("built by", f"haechi {__version__} (`haechi build upscale`)"),
    ]
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    return f"""---
library_name: transformers
tags:
- haechi
- depth-up-scaling
- merge
---

# {name}

A depth up-scaled (DUS) model built as in SOLAR 10.7B (Kim et al., 2023,
[arXiv:2312.15166](https://arxiv.org/abs/2312.15166)) from the base below.

| | |
|---|---|
{table}

## Recipe

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
"""
