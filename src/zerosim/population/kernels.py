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


@njit(cache=True, nogil=True)
def count_codes(codes, count):
    """``np.bincount(codes, minlength=count)`` for a large (n,) int8 code array.

    Codes outside 0..count-1 are ignored. Returns (count,) int64. One compare-and-sum pass per
    code, which the compiler vectorises: for the handful of codes of a status array this is
    several times faster than one branchy pass (5M agents, 4 codes: ~0.6 ms against ~8 ms).
    """
    out = np.zeros(count, dtype=np.int64)
    for k in range(count):
        target = np.int8(k)
        total = 0
        for i in range(codes.size):
            total += codes[i] == target
        out[k] = total
    return out


@njit(cache=True, nogil=True)
def where_nonzero(codes):
    """Indices (int32) of the non-zero entries of ``codes`` (n,): a vectorised counting pass, then
    one pass filling an array of exactly that size (no n-sized index buffer)."""
    total = 0
    for i in range(codes.size):
        total += codes[i] != 0
    out = np.empty(total, dtype=np.int32)
    count = 0
    for i in range(codes.size):
        if codes[i] != 0:
            out[count] = i
            count += 1
    return out


@njit(cache=True, nogil=True)
def where_equal(values, target):
    """Indices (int32) where ``values`` (n,) == ``target``, as :func:`where_nonzero`."""
    total = 0
    for i in range(values.size):
        total += values[i] == target
    out = np.empty(total, dtype=np.int32)
    count = 0
    for i in range(values.size):
        if values[i] == target:
            out[count] = i
            count += 1
    return out


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
