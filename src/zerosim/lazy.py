"""A module imported on first use: keeps pandas (and the pyarrow it pulls in, ~100 MiB together)
out of a simulation's memory until results are assembled, after the daily loop.

    from zerosim.lazy import lazy_module
    pd = lazy_module("pandas")
    pd.DataFrame(...)        # pandas is imported here, once
"""

from __future__ import annotations

import importlib
from types import ModuleType


class _LazyModule:
    """Stands in for a module; imports it at the first attribute access."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str):
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_module(name: str) -> _LazyModule:
    """A stand-in for module ``name`` that imports it on first use."""
    return _LazyModule(name)
