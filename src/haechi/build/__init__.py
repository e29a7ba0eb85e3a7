"""Tools for building models: depth up-scaling, training memory, fine-tuning, tokenizer efficiency."""

from haechi.build.upscale import UpscaleReport, depth_upscale, plan_upscale, solar_layer_map

__all__ = ["UpscaleReport", "depth_upscale", "plan_upscale", "solar_layer_map"]
