"""Putting a guard on a loaded model: ``apply_guard(model, "gedi:DIR,disc_weight=20")``."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

from haechi.errors import InputError
from haechi.guard.gedi_config import CONFIG_FILE
from haechi.guard.spec import GediGuidance, GuardSpec, parse_guard
from haechi.models.base import GuidableModel, LanguageModel, TokenStats
from haechi.models.fingerprint import digest, weights_hash


def apply_guard(
    model: LanguageModel, spec: str, *, base_dir: Path | None = None, field: str = "guard"
) -> LanguageModel:
    """A copy of ``model`` whose ``generate`` is guided by the guard ``spec``.

    Only a backend with decode-time ``logits_processors`` (today ``hf``) exposes every
    step's logits, so only it can be guarded. The
    copy shares the weights with ``model`` (which stays unguarded), has its own token
    counters, and carries the guard in ``describe()`` and its fingerprint, so cached
    answers of guarded and unguarded runs never mix. A relative folder in ``spec`` is
    taken from ``base_dir``. Bad specs, folders or tokenizers raise ``InputError``.
    """
    parsed = parse_guard(spec, field=field)
    if not isinstance(model, GuidableModel):
        raise InputError(
            f"a GeDi guard needs the hf backend, not {model.name!r}",
            field=field,
            hint="load the target as hf/ID|PATH: guidance re-weights every step's logits",
        )
    from haechi.guard.gedi_model import GediModel
    from haechi.guard.gedi_processor import GediLogitsProcessor

    folder = parsed.resolved(base_dir)
    if not folder.is_dir():
        raise InputError(f"no GeDi folder at {folder}", field=field)
    gedi = GediModel.load(folder, device=model.device)
    check_same_vocabulary(gedi.base_vocab(), model.tokenizer.get_vocab(), folder, field)
    processor = GediLogitsProcessor(
        gedi,
        parsed.guidance,
        pad_token_id=model.padding_token_id(),
        vocab_size=len(model.tokenizer),
    )
    guarded = copy.copy(model)
    guarded.logits_processors = [*model.logits_processors, processor]
    identity: dict[str, Any] = dict(model.identity)
    identity["guards"] = [*identity.get("guards", []), guard_identity(parsed, folder)]
    guarded.identity = identity
    guarded.fingerprint = digest(guarded.identity)
    guarded.stats = TokenStats()
    return guarded


def guard_identity(parsed: GuardSpec, folder: Path) -> dict[str, object]:
    """What identifies a guard in records: its kind, folder, a hash of its weights and
    config, and its decoding settings."""
    config_hash = hashlib.sha256((folder / CONFIG_FILE).read_bytes()).hexdigest()[:16]
    guidance: GediGuidance = parsed.guidance
    return {
        "kind": parsed.kind,
        "path": str(folder.resolve()),
        "weights": weights_hash(folder),
        "config": config_hash,
        **guidance.model_dump(),
    }


def check_same_vocabulary(
    gedi_vocab: dict[str, int], target_vocab: dict[str, int], folder: Path, field: str
) -> None:
    """A GeDi can only guide a model whose tokens have the same ids as its own."""
    if gedi_vocab == target_vocab:
        return
    differing = {
        t
        for t in gedi_vocab.keys() | target_vocab.keys()
        if gedi_vocab.get(t) != target_vocab.get(t)
    }
    example = ", ".join(repr(t) for t in sorted(differing)[:3])
    raise InputError(
        f"the GeDi in {folder} uses another tokenizer than the target "
        f"({len(gedi_vocab)} vs {len(target_vocab)} tokens; {len(differing)} differ, e.g. {example})",
        field=field,
        hint="train the GeDi from a small model that shares the target's tokenizer",
    )
