"""Ledger layer: Numba kernels of the daily cost accounting (per-agent and per-household passes).

Layer ``ledger`` -- imports numpy, numba and population codes only. Each kernel has a NumPy
reference in ``tests/ledger/test_ledger.py``. Parallel passes use a fixed number of chunks with
their own accumulators, so results do not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from zerosim.population.state import Compartment, HealthCode, Mobility

SCAN_CHUNKS = 64
_DEAD = np.int8(Compartment.DEAD)
_SEVERE = np.int8(Compartment.SEVERE)
_CRITICAL = np.int8(Compartment.CRITICAL)
_FREE = np.int8(Mobility.FREE)
_COMPOUND = np.int8(Mobility.COMPOUND)
_AWAY = np.int8(Mobility.AWAY)  # travelling (zerosim.region): neither confined nor kept from work here
_GREEN = np.int8(HealthCode.GREEN)


@njit(cache=True, nogil=True, parallel=True)
def account_confinement(
    compartment,
    mobility,
    consecutive_negatives,
    district_id,
    confined_streak_days,
    longest_confinement_days,
    confined_days_total,
    ledger_flags,
    person_days,
    after_ten_negatives,
):
    """One day of confinement accounting for every living agent.

    Confined = mobility COMPOUND, HOME or FACILITY. Updates per agent (in place) the current streak,
    the longest streak, the total confined days (int16, saturating) and bit 0 of ``ledger_flags``
    (kept confined after >= 10 consecutive negatives). Adds to ``person_days`` (D, 4) int64 the living
    agents at each mobility level by district, and to ``after_ten_negatives`` (D,) int64 the confined
    with >= 10 consecutive negative tests.
    """
    n = compartment.size
    districts = person_days.shape[0]
    levels = person_days.shape[1]
    days_acc = np.zeros((SCAN_CHUNKS, districts, levels), dtype=np.int64)
    ten_acc = np.zeros((SCAN_CHUNKS, districts), dtype=np.int64)
    chunk = (n + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            if compartment[i] == _DEAD:
                confined_streak_days[i] = 0
                continue
            level = mobility[i]
            d = district_id[i]
            days_acc[c, d, level] += 1
            if level >= _COMPOUND and level != _AWAY:
                if confined_streak_days[i] < 32767:
                    confined_streak_days[i] += 1
                if confined_days_total[i] < 32767:
                    confined_days_total[i] += 1
                if confined_streak_days[i] > longest_confinement_days[i]:
                    longest_confinement_days[i] = confined_streak_days[i]
                if consecutive_negatives[i] >= 10:
                    ten_acc[c, d] += 1
                    ledger_flags[i] |= 1
            else:
                confined_streak_days[i] = 0
    for c in range(SCAN_CHUNKS):
        for d in range(districts):
            after_ten_negatives[d] += ten_acc[c, d]
            for k in range(levels):
                person_days[d, k] += days_acc[c, d, k]


@njit(cache=True, nogil=True, parallel=True)
def household_confinement(household_start, compartment, mobility, confined_level, out_confined, out_alive):
    """Per household: 1 if every living member's mobility is >= ``confined_level`` (cannot shop), and
    the number of living members. ``household_start`` (H + 1,) int64; outputs (H,) int8 / int32."""
    households = household_start.size - 1
    chunk = (households + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        for h in range(c * chunk, min(households, (c + 1) * chunk)):
            alive = 0
            confined = 1
            for i in range(household_start[h], household_start[h + 1]):
                if compartment[i] == _DEAD or mobility[i] == _AWAY:
                    continue
                alive += 1
                if mobility[i] < confined_level:
                    confined = 0
            out_alive[h] = alive
            out_confined[h] = confined if alive > 0 else 0


@njit(cache=True, nogil=True, parallel=True)
def account_income(
    compartment,
    mobility,
    health_code,
    workplace_id,
    workplace_is_open,
    sector,
    worker_type,
    district_id,
    daily_wage_by_sector,
    loss_fraction_by_type,
    lost_by_district,
    lost_by_sector,
    lost_by_type,
    idle_workers,
):
    """Wages lost today by workers kept from work by containment (CNY).

    A living worker who is not severely ill loses ``wage[sector] x loss[type]`` if confined
    (mobility above FREE), without a green health code, or if the workplace is closed. Adds to
    ``lost_by_district`` (D,), ``lost_by_sector`` (sectors,), ``lost_by_type`` (types,) float64 and
    ``idle_workers`` (D,) int64.
    """
    n = compartment.size
    districts = lost_by_district.size
    sectors = lost_by_sector.size
    types = lost_by_type.size
    d_acc = np.zeros((SCAN_CHUNKS, districts), dtype=np.float64)
    s_acc = np.zeros((SCAN_CHUNKS, sectors), dtype=np.float64)
    t_acc = np.zeros((SCAN_CHUNKS, types), dtype=np.float64)
    idle = np.zeros((SCAN_CHUNKS, districts), dtype=np.int64)
    chunk = (n + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            w = workplace_id[i]
            if w < 0:
                continue
            state = compartment[i]
            if state == _DEAD or state == _SEVERE or state == _CRITICAL or mobility[i] == _AWAY:
                continue
            if mobility[i] == _FREE and health_code[i] == _GREEN and workplace_is_open[w] == 1:
                continue
            s = sector[i]
            t = worker_type[i]
            loss = daily_wage_by_sector[s] * loss_fraction_by_type[t]
            d = district_id[i]
            d_acc[c, d] += loss
            s_acc[c, s] += loss
            t_acc[c, t] += loss
            idle[c, d] += 1
    for c in range(SCAN_CHUNKS):
        for d in range(districts):
            lost_by_district[d] += d_acc[c, d]
            idle_workers[d] += idle[c, d]
        for s in range(sectors):
            lost_by_sector[s] += s_acc[c, s]
        for t in range(types):
            lost_by_type[t] += t_acc[c, t]


@njit(cache=True, nogil=True, parallel=True)
def count_pressure(
    compartment,
    confined_streak_days,
    threshold_days,
    household_id,
    household_out_today,
    workplace_id,
    mobility,
    subdistrict_id,
    district_id,
    by_subdistrict,
    by_district,
):
    """Residents under pressure: living, confined longer than ``threshold_days`` and either without
    food at home or kept from work (a worker not free to go out). Adds counts to ``by_subdistrict``
    (S,) and ``by_district`` (D,) int64."""
    n = compartment.size
    subdistricts = by_subdistrict.size
    districts = by_district.size
    s_acc = np.zeros((SCAN_CHUNKS, subdistricts), dtype=np.int64)
    d_acc = np.zeros((SCAN_CHUNKS, districts), dtype=np.int64)
    chunk = (n + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            if confined_streak_days[i] <= threshold_days or compartment[i] == _DEAD:
                continue
            if mobility[i] == _AWAY:
                continue
            if household_out_today[household_id[i]] == 1 or (workplace_id[i] >= 0 and mobility[i] != _FREE):
                s_acc[c, subdistrict_id[i]] += 1
                d_acc[c, district_id[i]] += 1
    for c in range(SCAN_CHUNKS):
        for s in range(subdistricts):
            by_subdistrict[s] += s_acc[c, s]
        for d in range(districts):
            by_district[d] += d_acc[c, d]
