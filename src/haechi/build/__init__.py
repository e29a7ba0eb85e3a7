"""Tools for building models: depth up-scaling, merging, training memory, fine-tuning, tokenizer efficiency."""

from haechi.build.memory import MeasuredPeak, MemoryEstimate
from haechi.build.memory_estimate import estimate
from haechi.build.memory_measure import measure
from haechi.build.merge import MergeReport, merge_checkpoints, plan_merge
from haechi.build.merge_config import MergeConfig, load_merge_config
from haechi.build.preference_data import PreferencePair, read_preferences
from haechi.build.train import plan_memory  # not train(): it would hide its module's name
from haechi.build.train_config import TrainConfig, TrainReport
from haechi.build.upscale import UpscaleReport, depth_upscale, plan_upscale, solar_layer_map

__all__ = [
    "MeasuredPeak",
    "MemoryEstimate",
    "MergeConfig",
    "MergeReport",
    "PreferencePair",
    "TrainConfig",
    "TrainReport",
    "UpscaleReport",
    "depth_upscale",
    "estimate",
    "load_merge_config",
    "measure",
    "merge_checkpoints",
    "plan_memory",
    "plan_merge",
    "plan_upscale",
    "read_preferences",
    "solar_layer_map",
]
