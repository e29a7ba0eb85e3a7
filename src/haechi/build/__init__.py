"""Tools for building models: depth up-scaling, training memory, fine-tuning, tokenizer efficiency."""

from haechi.build.memory import MeasuredPeak, MemoryEstimate
from haechi.build.memory_estimate import estimate
from haechi.build.memory_measure import measure
from haechi.build.upscale import UpscaleReport, depth_upscale, plan_upscale, solar_layer_map

__all__ = [
    "MeasuredPeak",
    "MemoryEstimate",
    "UpscaleReport",
    "depth_upscale",
    "estimate",
    "measure",
    "plan_upscale",
    "solar_layer_map",
]
