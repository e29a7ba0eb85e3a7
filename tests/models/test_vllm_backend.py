"""The vllm backend: imported only when used; without vLLM, a message naming the extra."""

from __future__ import annotations

import pytest

from haechi.errors import MissingExtraError
from haechi.models import load


def test_vllm_backend_explains_the_missing_extra() -> None:
    pytest.importorskip("haechi.models.vllm")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match=r"haechi\[vllm\]"):
            load("vllm/any/model")
    else:
        pytest.skip("vLLM is installed here; its backend is exercised on GPU machines")
