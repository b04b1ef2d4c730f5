"""Region layer: several zerosim cities stepped together, with the travel between them.

Public API::

    from zerosim.region import run_region
    results = run_region("diverted-train", out="results/train")
    results.summary["travel"]["diverted_trips"]

``config`` (the ``kind: region`` scenario), ``travel`` (the shipped travel matrix and its
derivation), ``slots`` (visitor rows), ``runner`` (the lockstep loop and the exchange of
travellers), ``results`` (outputs). See docs/region.md.
"""

from __future__ import annotations

from zerosim.region.config import (
    RegionScenario,
    is_region_source,
    load_region,
    region_builtin_names,
)
from zerosim.region.results import RegionResults, run_region

__all__ = ["RegionResults", "RegionScenario", "is_region_source", "load_region", "region_builtin_names", "run_region"]
