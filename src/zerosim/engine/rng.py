"""Engine layer: reproducible random streams.

One scenario seed; each component gets its own Generator keyed by a stable hash of its name
(CRC-32, never Python's ``hash()``), so adding a component leaves the others' streams unchanged
(common random numbers across policy comparisons).
"""

from __future__ import annotations

import zlib

import numpy as np


def component_rng(seed: int, name: str) -> np.random.Generator:
    """The Generator of component ``name`` in a run seeded with ``seed``."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


def replicate_seed(seed: int, replicate: int) -> int:
    """Seed of ensemble replicate ``replicate`` (0-based) derived from the scenario seed."""
    child = np.random.SeedSequence(seed).spawn(replicate + 1)[replicate]
    return int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def kernel_seed(rng: np.random.Generator) -> np.uint64:
    """A fresh 63-bit seed for a counter-based Numba kernel, drawn from a component's Generator."""
    return np.uint64(rng.integers(0, 2**63 - 1, dtype=np.int64))
