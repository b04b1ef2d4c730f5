"""Population layer: counter-based random numbers for Numba kernels.

Layer ``population`` -- imports numpy and numba only (the bottom layer, so every kernel above may
use it).

Every draw is a hash of (call seed, a, b, c) -- typically (seed, agent, stream, draw index) -- so
a kernel's result does not depend on the order of its work or on the thread count. The call seed
comes from a component's own Generator (``zerosim.engine.rng.kernel_seed``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, nogil=True, inline="always")
def splitmix64(x):
    """SplitMix64 finaliser of a uint64 (Steele, Lea & Flood 2014): a well-mixed uint64."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True, inline="always")
def hash_uniform(seed, a, b, c):
    """A uniform in [0, 1) determined by (seed, a, b, c); all arguments are non-negative ints."""
    h = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(a) ^ splitmix64(np.uint64(b) * _GOLDEN + np.uint64(c))))
    return float(h >> _S11) * _INV53


@njit(cache=True, nogil=True, inline="always")
def hash_normal(seed, a, b, c):
    """A standard normal determined by (seed, a, b, c): Box-Muller on the uniforms (c, 0) and (c, 1)
    of stream b (so stream b uses draw indices 2c and 2c + 1)."""
    u1 = max(hash_uniform(seed, a, b, 2 * c), 1e-300)
    u2 = hash_uniform(seed, a, b, 2 * c + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, nogil=True)
def hash_gamma(shape, seed, a, b):
    """A Gamma(shape, scale 1) draw from stream (seed, a, b, .): Marsaglia & Tsang (2000), with
    ``Gamma(shape + 1) * U**(1/shape)`` for shape < 1."""
    boost = 1.0
    k = shape
    if shape < 1.0:
        boost = hash_uniform(seed, a, b, 999_999) ** (1.0 / shape)
        k = shape + 1.0
    d = k - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for attempt in range(1000):
        z = hash_normal(seed, a, b, 2 * attempt)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = max(hash_uniform(seed, a, b, 4 * attempt + 3), 1e-300)
        if math.log(u) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v * boost
    return d * boost  # not reached in practice (acceptance > 95 % per attempt)
