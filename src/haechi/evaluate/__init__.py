"""The evaluation engine: tasks into requests, metrics, results files and stored runs."""

from haechi.evaluate.cache import ResponseCache
from haechi.evaluate.config import EvalConfig
from haechi.evaluate.runner import EvalReport, evaluate

__all__ = ["EvalConfig", "EvalReport", "ResponseCache", "evaluate"]
