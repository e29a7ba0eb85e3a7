"""Verifiable instructions (IFEval's idea): checks a program can decide on a response, the
English ones IFEval defines and Korean ones; ``INSTRUCTIONS`` is the one table of them."""

from haechi.evaluate.instructions.base import Check
from haechi.evaluate.instructions.following import (
    Instruction,
    Verdicts,
    follow,
    instructions_of,
    loose_variants,
    require_packages,
)
from haechi.evaluate.instructions.registry import INSTRUCTIONS

__all__ = [
    "INSTRUCTIONS",
    "Check",
    "Instruction",
    "Verdicts",
    "follow",
    "instructions_of",
    "loose_variants",
    "require_packages",
]
