"""The base's ``config.json`` and its rewrite for an up-scaled layer order.

A config can carry settings per decoder layer: ``layer_types`` (full or sliding-window
attention: Qwen2, Gemma2 and later), ``no_rope_layers``, transformers' heterogeneous
``per_layer_config``, and Qwen2's ``max_window_layers`` (a count: layers below it use full
attention). Each new layer keeps the settings of the base layer it copies.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haechi.errors import InputError

log = logging.getLogger(__name__)

# Config lists with one entry per decoder layer, remapped to the new layer order.
PER_LAYER_LISTS = ("layer_types", "no_rope_layers")
_DECODERS = "up-scale a decoder-only checkpoint (Llama, Mistral, Qwen2, Gemma)"


@dataclass(frozen=True)
class BaseConfig:
    """A base's ``config.json`` as written (``data``), with what transformers reads into it.

    ``layer_types`` is the file's list or, when the file leaves it implicit, the one
    transformers derives; ``tied`` is None when neither the file nor transformers says.
    """

    path: Path
    data: dict[str, Any]
    sha256: str
    layers: int
    layer_types: list[Any] | None
    tied: bool | None


def read_base_config(src: Path) -> BaseConfig:
    """Read and check ``src/config.json``; ``InputError`` names the file and field at fault."""
    path = src / "config.json"
    if not path.is_file():
        raise InputError("config.json not found in the model folder", file=str(path))
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", file=str(path))
    if data.get("is_encoder_decoder"):
        raise InputError(
            "encoder-decoder models cannot be up-scaled",
            file=str(path),
            field="is_encoder_decoder",
            hint=_DECODERS,
        )
    if isinstance(data.get("text_config"), dict):
        raise InputError(
            "multimodal configs (with a text_config) are not supported",
            file=str(path),
            field="text_config",
            hint=_DECODERS,
        )
    n = data.get("num_hidden_layers")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(
            "expected a positive layer count", file=str(path), field="num_hidden_layers",
            hint=_DECODERS,
        )  # fmt: skip
    check_per_layer_fields(data, n, str(path))
    effective = _transformers_config(src)
    layer_types = data.get("layer_types")
    if layer_types is None and effective is not None:
        derived = getattr(effective, "layer_types", None)
        layer_types = list(derived) if derived is not None else None
    tied = data.get("tie_word_embeddings")
    if tied is None and effective is not None:
        tied = getattr(effective, "tie_word_embeddings", None)
    return BaseConfig(
        path=path,
        data=data,
        sha256=hashlib.sha256(raw).hexdigest(),
        layers=n,
        layer_types=layer_types,
        tied=None if tied is None else bool(tied),
    )


def remap_config(
    config: dict[str, Any], layer_map: tuple[int, ...], layer_types: list[Any] | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The config of the up-scaled model, and the names of the fields that changed.

    ``num_hidden_layers`` becomes ``len(layer_map)``; per-layer lists (``layer_types``,
    ``no_rope_layers``) and ``per_layer_config`` are reordered so that new layer ``j`` has
    base layer ``layer_map[j]``'s settings. ``layer_types`` (the file's, else the one given)
    is written out explicitly. ``max_window_layers`` becomes the count of leading new
    layers that copy a base layer below it.
    """
    n = config["num_hidden_layers"]
    new = dict(config)
    new["num_hidden_layers"] = len(layer_map)
    fields = ["num_hidden_layers"]
    lists = {key: config.get(key) for key in PER_LAYER_LISTS}
    if lists["layer_types"] is None:
        lists["layer_types"] = layer_types
    check_per_layer_fields({**config, **lists}, n)
    for key, values in lists.items():
        if values is not None:
            new[key] = [values[i] for i in layer_map]
            fields.append(key)
    per_layer = config.get("per_layer_config")
    if per_layer:
        by_index = {int(k): v for k, v in per_layer.items()}
        new["per_layer_config"] = {
            str(j): by_index[i] for j, i in enumerate(layer_map) if i in by_index
        }
        fields.append("per_layer_config")
    window = config.get("max_window_layers")
    if isinstance(window, int) and not isinstance(window, bool):
        leading = next((j for j, i in enumerate(layer_map) if i >= window), len(layer_map))
        new["max_window_layers"] = leading
        fields.append("max_window_layers")
        if new.get("use_sliding_window") and any(i < window for i in layer_map[leading:]):
            # transformers and vLLM follow layer_types; readers of max_window_layers alone
            # would put sliding attention on layers that had full attention.
            log.warning(
                "after up-scaling, the sliding-window layers are not all above one threshold: "
                "layer_types records each layer, max_window_layers=%d only the leading ones",
                leading,
            )
    # Lists as long as the stack may be per-layer settings this code does not know; for tiny
    # stacks, short lists such as eos_token_id pairs would match too often to say so.
    for key, value in config.items():
        if key not in fields and isinstance(value, list) and len(value) == n and n > 2:
            log.warning("config field %r has %d entries, as many as layers; left unchanged", key, n)
    return new, tuple(fields)


def check_per_layer_fields(config: dict[str, Any], n: int, file: str = "config.json") -> None:
    """Raise ``InputError`` unless every per-layer field of ``config`` covers ``n`` layers."""
    for key in PER_LAYER_LISTS:
        values = config.get(key)
        if values is not None and (not isinstance(values, list) or len(values) != n):
            raise InputError(
                f"expected a list with one entry per layer ({n})", file=file, field=key
            )
    per_layer = config.get("per_layer_config")
    if per_layer is None:
        return
    if not isinstance(per_layer, dict) or not all(
        str(k).isdigit() and int(k) < n for k in per_layer
    ):
        raise InputError(
            f"expected a table of layer index (0…{n - 1}) → settings",
            file=file,
            field="per_layer_config",
        )


def _transformers_config(src: Path) -> Any | None:
    """transformers' reading of the config (defaults filled in); None for an architecture
    this transformers does not know, whose config is then taken as written."""
    try:
        from transformers import AutoConfig
    except ImportError:
        return None
    try:
        return AutoConfig.from_pretrained(src)
    except (ValueError, KeyError) as exc:
        log.warning("transformers cannot read %s/config.json (%s); using it as written", src, exc)
        return None
    except Exception as exc:  # transformers' config validators raise their own errors
        raise InputError(
            f"transformers rejects this config: {exc}", file=str(src / "config.json")
        ) from exc
