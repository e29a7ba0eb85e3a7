"""Guard specs (``gedi:DIR,disc_weight=30,filter_p=0.8``) and GeDi's decoding settings.

The settings and their defaults follow the GeDi reference generation code
(salesforce/GeDi, ``generate_GeDi.py``): ω = 30, filter_p = 0.8, target_p = 0.8,
class_bias = 0 (its ``detoxify`` mode uses 2.0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from haechi.errors import InputError
from haechi.validation import validated

GUARD_KINDS = ("gedi",)


class GediGuidance(BaseModel):
    """How a GeDi re-weights the target's next-token distribution.

    ``disc_weight`` (ω, the paper's posterior weighting): the guided log-probability of a
    token is ``log p_LM(x) + ω · log P(desired | x_≤t)``. ``filter_p`` (1 − ρ in the
    paper): going from the least to the most desired token, tokens are removed while
    their cumulative guided probability stays below ``filter_p``, unless their class
    posterior is at least ``target_p`` (τ). ``class_bias`` is added to the desired
    class's logit before the Bayes-rule normalisation; ``target_p`` is shifted by the
    same amount in logit space, as the reference code does.
    """

    model_config = ConfigDict(extra="forbid")

    disc_weight: float = Field(30.0, ge=0, description="ω: posterior weighting exponent")
    filter_p: float = Field(0.8, ge=0, le=1, description="1 − ρ: mass filtered by posterior")
    target_p: float = Field(0.8, ge=0, le=1, description="τ: posterior that saves a token")
    class_bias: float = Field(0.0, description="added to the desired class's logit")

    @property
    def log_target_p(self) -> float:
        """log τ after the class-bias shift (−inf for τ = 0: nothing is saved by τ)."""
        p = self.target_p
        if self.class_bias and 0 < p < 1:
            shifted = math.log(p / (1 - p)) + self.class_bias
            p = 1 / (1 + math.exp(-shifted))
        return math.log(p) if p > 0 else -math.inf


@dataclass(frozen=True)
class GuardSpec:
    """A parsed guard spec: its kind, the trained guard's folder and its settings."""

    kind: str
    path: Path
    guidance: GediGuidance

    def resolved(self, base_dir: Path | None) -> Path:
        """The folder, relative paths taken from ``base_dir`` (e.g. a campaign's folder)."""
        path = self.path.expanduser()
        return path if path.is_absolute() or base_dir is None else base_dir / path


def parse_guard(text: str, *, field: str = "guard") -> GuardSpec:
    """Parse ``gedi:DIR`` optionally followed by ``,key=value`` settings of
    ``GediGuidance`` (so DIR cannot contain a comma). Bad specs raise ``InputError``
    naming ``field``."""
    kind, sep, rest = text.partition(":")
    if not sep or kind not in GUARD_KINDS:
        raise InputError(
            f"guard {text!r} is not of the form KIND:DIR",
            field=field,
            hint="e.g. gedi:./gedi-kocohub or gedi:./gedi-kocohub,disc_weight=20",
        )
    path, *options = rest.split(",")
    if not path.strip():
        raise InputError(f"guard {text!r} names no folder", field=field, hint="gedi:DIR")
    settings: dict[str, str] = {}
    for option in options:
        key, eq, value = option.partition("=")
        if not eq or not key.strip():
            raise InputError(
                f"guard setting {option!r} is not key=value",
                field=field,
                hint=f"settings: {', '.join(GediGuidance.model_fields)}",
            )
        settings[key.strip()] = value.strip()
    guidance = validated(GediGuidance, settings, where=f"{field} setting")
    return GuardSpec(kind, Path(path.strip()), guidance)
