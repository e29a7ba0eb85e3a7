"""Mitigations at decode time: GeDi-guided generation (Krause et al., 2020) and its training.

- ``apply_guard(model, "gedi:DIR")``: an hf model whose ``generate`` is GeDi-guided.
- ``haechi.guard.gedi_train.train_gedi``: train a GeDi (class-conditional LM with two
  control-code tokens) from a small LM on labelled texts (``haechi.guard.data``).
- ``haechi.guard.scoring``: a GeDi as a classifier (class posterior of texts, AUC).
- ``haechi.guard.gedi_processor.GediLogitsProcessor``: the ``transformers``
  ``LogitsProcessor`` itself, for use with any HF causal LM sharing the GeDi's tokenizer.

The modules that need torch are imported from their own paths, so importing this package
stays light.
"""

from haechi.guard.apply import apply_guard
from haechi.guard.data import LabelledSet, LabelledText, load_kocohub, load_kosbi, load_labelled
from haechi.guard.gedi_config import GediConfig, GediTraining, read_config
from haechi.guard.spec import GediGuidance, GuardSpec, parse_guard

__all__ = [
    "GediConfig",
    "GediGuidance",
    "GediTraining",
    "GuardSpec",
    "LabelledSet",
    "LabelledText",
    "apply_guard",
    "load_kocohub",
    "load_kosbi",
    "load_labelled",
    "parse_guard",
    "read_config",
]
