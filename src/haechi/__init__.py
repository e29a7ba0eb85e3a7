"""haechi: evaluate, judge, red-team and build Korean LLMs."""

__version__ = "0.1.0"
