"""Picks the kernels: the compiled `_core` unless it is missing or FASTLINKS_NO_EXTENSIONS=1."""

from __future__ import annotations

import os
from types import ModuleType

from . import _core_py


def _load() -> tuple[ModuleType, str]:
    if os.environ.get("FASTLINKS_NO_EXTENSIONS", "").strip() not in ("", "0"):
        return _core_py, "python"
    try:
        from . import _core
    except ImportError:
        return _core_py, "python"
    return _core, "cython"


core, IMPLEMENTATION = _load()
