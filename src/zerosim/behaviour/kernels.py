"""Behaviour layer: the daily compliance draw (Numba). NumPy reference in tests/behaviour."""

from __future__ import annotations

import math

from numba import njit, prange

from zerosim.population.kernels import SCAN_CHUNKS
from zerosim.transmission.kernels import hash_uniform

_STREAM = 77  # hash stream of the compliance draw


@njit(cache=True, nogil=True)
def compliance_probability(confined_days, out_of_food, boost, base, fatigue, food_penalty, minimum):
    """P(comply) = clip(base * exp(-fatigue * confined days) - food_penalty * out_of_food + boost, minimum, 1)."""
    p = base * math.exp(-fatigue * confined_days) - food_penalty * out_of_food + boost
    return min(1.0, max(minimum, p))


@njit(cache=True, nogil=True, parallel=True)
def draw_compliance(seed, confined_days_total, household_id, household_out_today, district_id, boost_by_district,
                    base, fatigue, food_penalty, minimum, is_compliant_today):
    """Write 1/0 into ``is_compliant_today`` (n,) int8: a counter-based uniform per agent below its
    compliance probability. Independent of the thread count."""
    chunk = (is_compliant_today.size + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        for i in range(c * chunk, min(is_compliant_today.size, (c + 1) * chunk)):
            p = compliance_probability(confined_days_total[i], household_out_today[household_id[i]],
                                       boost_by_district[district_id[i]], base, fatigue, food_penalty, minimum)
            is_compliant_today[i] = 1 if hash_uniform(seed, i, _STREAM, 0) < p else 0
