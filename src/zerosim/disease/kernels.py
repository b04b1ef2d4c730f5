"""Disease layer: Numba kernels over plain arrays (viral load, infectiousness, daily progression).

Layer ``disease`` -- imports numpy, numba and ``zerosim.population.state`` only. Every kernel has
a NumPy reference in ``tests/disease/test_kernels.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from zerosim.population.state import Compartment

_S = np.int8(Compartment.SUSCEPTIBLE)
_E = np.int8(Compartment.EXPOSED)
_P = np.int8(Compartment.PRESYMPTOMATIC)
_A = np.int8(Compartment.ASYMPTOMATIC)
_M = np.int8(Compartment.MILD)
_SEV = np.int8(Compartment.SEVERE)
_CRIT = np.int8(Compartment.CRITICAL)
_R = np.int8(Compartment.RECOVERED)
_D = np.int8(Compartment.DEAD)

#: Fixed number of work chunks of the parallel scans. Fixed (not the thread count) so that the
#: reduction order, and therefore every result, is the same whatever NUMBA_NUM_THREADS is.
SCAN_CHUNKS = 64


@njit(cache=True, nogil=True, inline="always")
def log10_viral_load(day, day_detectable, day_peak, day_clear, peak_log10, detection_limit_log10):
    """log10 viral load (copies/mL) on ``day``; 0.0 outside the detectable window.

    Piecewise linear: the detection limit at ``day_detectable``, ``peak_log10`` at ``day_peak``,
    back to the limit at ``day_clear``.
    """
    if day_detectable < 0 or day < day_detectable or day > day_clear:
        return 0.0
    if day <= day_peak:
        span = max(day_peak - day_detectable, 1)
        return detection_limit_log10 + (peak_log10 - detection_limit_log10) * (day - day_detectable) / span
    span = max(day_clear - day_peak, 1)
    return peak_log10 - (peak_log10 - detection_limit_log10) * (day - day_peak) / span


@njit(cache=True, nogil=True)
def viral_weight_sums(day_detectable, day_peak, day_clear, peak_log10, detection_limit_log10, threshold_log10):
    """Per agent: sum over days of max(0, log10 VL - threshold), and the last day it is positive.

    Parameters
    ----------
    day_detectable, day_peak, day_clear : (n,) int16/int64
    peak_log10 : (n,) float32

    Returns
    -------
    sums : (n,) float64
    last_positive_day : (n,) int64, -1 if never above the threshold
    """
    n = day_detectable.size
    sums = np.zeros(n, dtype=np.float64)
    last = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        total = 0.0
        for day in range(day_detectable[i], day_clear[i] + 1):
            excess = (
                log10_viral_load(day, day_detectable[i], day_peak[i], day_clear[i], peak_log10[i], detection_limit_log10)
                - threshold_log10
            )
            if excess > 0.0:
                total += excess
                last[i] = day
        sums[i] = total
    return sums, last


@njit(cache=True, nogil=True)
def collect_active(compartment, out):
    """Write the indices of agents in EXPOSED..CRITICAL into ``out``; return how many."""
    count = 0
    for i in range(compartment.size):
        c = compartment[i]
        if c >= _E and c <= _CRIT:
            out[count] = i
            count += 1
    return count


@njit(cache=True, nogil=True, inline="always")
def _target_compartment(day, current, day_infectious, day_symptomatic, day_severe, day_critical, day_outcome, is_fatal):
    if day >= day_outcome:
        return _D if is_fatal else _R
    if day_critical >= 0 and day >= day_critical:
        return _CRIT
    if day_severe >= 0 and day >= day_severe:
        return _SEV
    if day_symptomatic >= 0 and day >= day_symptomatic:
        return _M
    if day >= day_infectious:
        return _A if day_symptomatic < 0 else _P
    return current


@njit(cache=True, nogil=True)
def count_active(compartment):
    """Number of agents in EXPOSED..CRITICAL."""
    count = 0
    for i in range(compartment.size):
        c = compartment[i]
        if c >= _E and c <= _CRIT:
            count += 1
    return count


@njit(cache=True, nogil=True)
def merge_sorted(first, first_count, second, out):
    """Merge ascending ``first[:first_count]`` and ascending ``second`` (no shared values) into ``out``;
    return how many were written."""
    i = 0
    j = 0
    k = 0
    while i < first_count and j < second.size:
        if first[i] < second[j]:
            out[k] = first[i]
            i += 1
        else:
            out[k] = second[j]
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
def compact_active(ids, count, compartment):
    """Drop from ``ids[:count]`` the agents no longer in EXPOSED..CRITICAL (order kept); return the new count."""
    kept = 0
    for a in range(count):
        i = ids[a]
        c = compartment[i]
        if c >= _E and c <= _CRIT:
            ids[kept] = i
            kept += 1
    return kept


@njit(cache=True, nogil=True, parallel=True)
def progress_day(
    day,
    ids,
    count,
    compartment,
    day_infectious,
    day_symptomatic,
    day_severe,
    day_critical,
    day_outcome,
    is_fatal,
    district_id,
    age,
    count_by_district,
    count_by_age_band,
    entered_by_district,
):
    """Move the infected agents ``ids[:count]`` to the compartment their sampled days give for ``day``.

    ``ids`` lists (at least) every agent in EXPOSED..CRITICAL, each once; others are skipped, so the
    day costs in proportion to the infected, not to N. ``age`` (n,) uint8 gives the 10-year band
    (last band open-ended). Updates, in place, ``compartment`` (n,) int8, ``count_by_district``
    (D, C) int64, ``count_by_age_band`` (B, C) int64, and adds to ``entered_by_district`` (D, C)
    int64 the number of agents entering each compartment today. Deterministic for any thread count.
    """
    districts, compartments = count_by_district.shape
    bands = count_by_age_band.shape[0]
    d_delta = np.zeros((SCAN_CHUNKS, districts, compartments), dtype=np.int64)
    a_delta = np.zeros((SCAN_CHUNKS, bands, compartments), dtype=np.int64)
    e_delta = np.zeros((SCAN_CHUNKS, districts, compartments), dtype=np.int64)
    chunk = (count + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        start = c * chunk
        stop = min(count, start + chunk)
        for a in range(start, stop):
            i = ids[a]
            current = compartment[i]
            if current < _E or current > _CRIT:
                continue
            target = _target_compartment(
                day, current, day_infectious[i], day_symptomatic[i], day_severe[i], day_critical[i], day_outcome[i], is_fatal[i]
            )
            if target != current:
                compartment[i] = target
                d = district_id[i]
                b = min(age[i] // 10, bands - 1)
                d_delta[c, d, current] -= 1
                d_delta[c, d, target] += 1
                e_delta[c, d, target] += 1
                a_delta[c, b, current] -= 1
                a_delta[c, b, target] += 1
    for c in range(SCAN_CHUNKS):
        for d in range(districts):
            for k in range(compartments):
                count_by_district[d, k] += d_delta[c, d, k]
                entered_by_district[d, k] += e_delta[c, d, k]
        for b in range(bands):
            for k in range(compartments):
                count_by_age_band[b, k] += a_delta[c, b, k]
