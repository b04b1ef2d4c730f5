"""Population layer: small Numba kernels shared by every layer (counting codes fast).

Layer ``population`` -- imports numpy and numba only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit

#: Fixed number of work chunks of the parallel scans of every layer. Fixed (not the thread count) so
#: that the reduction order, and therefore every result, is the same whatever NUMBA_NUM_THREADS is.
SCAN_CHUNKS = 64

#: Default amount of work below which a parallel kernel runs on the calling thread alone. Waking
#: the other OpenMP thread (asleep between kernels: zerosim sets OMP_WAIT_POLICY=PASSIVE) takes
#: about 50-80 microseconds, more than small work gains from it: 1M agents, 120 days of
#: well-mixed, progress_day took 136 ms with every call parallel (most calls had fewer than 1,000
#: agents to look at) and 63 ms with this rule (docs/performance.md).
PARALLEL_MIN_WORK = 20_000


@contextmanager
def threads_for(work: int, minimum: int = PARALLEL_MIN_WORK) -> Iterator[None]:
    """Run the parallel kernels called inside on one thread when ``work`` is below ``minimum``
    (pick it where the work of one item times ``minimum`` is well above a thread wake-up). The
    kernels give the same result whatever the thread count."""
    if work >= minimum:
        yield
        return
    previous = numba.get_num_threads()
    if previous == 1:
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


#: Agents per block of the block-skipping scans below. A block is first tested as a whole with a
#: loop of fixed length that the compiler vectorises (an OR of 256 comparisons, ~0.04 ns an agent);
#: only blocks with a match are looked at agent by agent. The status arrays of a contained city are
#: almost all zero, so a scan costs about one read of the array.
SCAN_BLOCK = 256


@njit(cache=True, nogil=True, inline="always")
def block_matches(values, base, target, negate):
    """Whether any of ``values[base:base + SCAN_BLOCK]`` equals ``target`` (differs, if ``negate``)."""
    hit = False
    for j in range(SCAN_BLOCK):
        hit |= (values[base + j] == target) != negate
    return hit


@njit(cache=True, nogil=True)
def blocks_with(values, target, negate):
    """Per block of ``SCAN_BLOCK`` agents, whether any of its ``values`` equals ``target`` (differs
    from it, if ``negate``): (ceil(n / SCAN_BLOCK),) bool, block b holding agents b * SCAN_BLOCK ...

    For parallel kernels: a loop over a prange's share of agents can skip the blocks without a
    match. (The fixed-length test of :func:`block_matches` is vectorised only outside a prange
    body, so it is done here, in one serial pass, ~0.35 ms for 5M int16 values.)
    """
    n = values.size
    full = n // SCAN_BLOCK
    out = np.empty((n + SCAN_BLOCK - 1) // SCAN_BLOCK, dtype=np.bool_)
    for b in range(full):
        out[b] = block_matches(values, b * SCAN_BLOCK, target, negate)
    if out.size > full:
        hit = False
        for i in range(full * SCAN_BLOCK, n):
            hit |= (values[i] == target) != negate
        out[full] = hit
    return out


@njit(cache=True, nogil=True)
def count_codes(codes, count):
    """``np.bincount(codes, minlength=count)`` for a large (n,) int8 code array.

    Codes outside 0..count-1 are ignored. Returns (count,) int64. Blocks of zeros (most of a
    status array) are counted whole; in the other blocks, one compare-and-sum per code, which the
    compiler vectorises (for the handful of codes of a status array this is several times faster
    than one branchy pass).
    """
    out = np.zeros(count, dtype=np.int64)
    n = codes.size
    full = n // SCAN_BLOCK
    zero = np.int8(0)
    zeros = 0
    for b in range(full):
        base = b * SCAN_BLOCK
        if not block_matches(codes, base, zero, True):
            zeros += SCAN_BLOCK
            continue
        for k in range(count):
            target = np.int8(k)
            total = 0
            for j in range(SCAN_BLOCK):
                total += codes[base + j] == target
            out[k] += total
    if count > 0:
        out[0] += zeros
    for i in range(full * SCAN_BLOCK, n):
        code = codes[i]
        if code >= 0 and code < count:
            out[code] += 1
    return out


@njit(cache=True, nogil=True)
def _where(values, target, negate):
    """Indices (int32), ascending, where ``values`` (n,) equals ``target`` (differs, if ``negate``):
    blocks without a match are skipped after one vectorised test, the others are counted, then
    the matches are written without branches (a view of an array one block longer than the matches;
    no n-sized index buffer)."""
    n = values.size
    full = n // SCAN_BLOCK
    blocks = full + (1 if full * SCAN_BLOCK < n else 0)
    found = np.zeros(blocks, dtype=np.int32)
    total = 0
    for b in range(full):
        base = b * SCAN_BLOCK
        if block_matches(values, base, target, negate):
            matches = 0
            for j in range(SCAN_BLOCK):
                matches += (values[base + j] == target) != negate
            found[b] = matches
            total += matches
    if blocks > full:
        matches = 0
        for i in range(full * SCAN_BLOCK, n):
            matches += (values[i] == target) != negate
        found[full] = matches
        total += matches
    out = np.empty(total + SCAN_BLOCK, dtype=np.int32)  # room for the branch-free writes past the last match
    count = 0
    for b in range(blocks):
        if found[b] == 0:
            continue
        for i in range(b * SCAN_BLOCK, min(n, (b + 1) * SCAN_BLOCK)):
            out[count] = i
            count += (values[i] == target) != negate
    return out[:total]


@njit(cache=True, nogil=True)
def where_nonzero(codes):
    """Indices (int32) of the non-zero entries of ``codes`` (n,), ascending (see :func:`_where`)."""
    return _where(codes, np.int8(0), True)


@njit(cache=True, nogil=True)
def where_equal(values, target):
    """Indices (int32) where ``values`` (n,) == ``target``, ascending (see :func:`_where`)."""
    return _where(values, target, False)


@njit(cache=True, nogil=True)
def union_sorted(first, first_count, second, out):
    """Sorted union of ascending ``first[:first_count]`` and ascending ``second`` into ``out`` (a value
    in both is written once); returns how many were written. ``out`` needs room for both."""
    i = 0
    j = 0
    k = 0
    while i < first_count and j < second.size:
        if first[i] < second[j]:
            out[k] = first[i]
            i += 1
        elif second[j] < first[i]:
            out[k] = second[j]
            j += 1
        else:
            out[k] = first[i]
            i += 1
            j += 1
        k += 1
    while i < first_count:
        out[k] = first[i]
        i += 1
        k += 1
    while j < second.size:
        out[k] = second[j]
        j += 1
        k += 1
    return k


@njit(cache=True, nogil=True)
def stable_order_by_key(keys, key_count):
    """``np.argsort(keys, kind="stable")`` for non-negative integer keys below ``key_count``, by a
    counting sort: O(n + key_count) instead of O(n log n). Returns (n,) int64 positions."""
    counts = np.zeros(key_count + 1, dtype=np.int64)
    for i in range(keys.size):
        counts[keys[i] + 1] += 1
    for k in range(key_count):
        counts[k + 1] += counts[k]
    order = np.empty(keys.size, dtype=np.int64)
    for i in range(keys.size):
        k = keys[i]
        order[counts[k]] = i
        counts[k] += 1
    return order
