"""Policy layer: Numba kernels for the per-agent daily passes (confinement, health code).

Layer ``policy`` -- imports numpy, numba and population codes only. Each kernel has a NumPy
reference in ``tests/policy/test_kernels.py``. Parallel passes write only to their own element,
so their result does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from zerosim.population.counter_rng import hash_uniform
from zerosim.population.kernels import SCAN_BLOCK, SCAN_CHUNKS
from zerosim.population.state import (
    Compartment,
    HealthCode,
    IsolationStatus,
    Mobility,
    QuarantineStatus,
    TestResult,
    ZoneLevel,
)

_DEAD = np.int8(Compartment.DEAD)
_FREE = np.int8(Mobility.FREE)
_COMPOUND = np.int8(Mobility.COMPOUND)
_HOME = np.int8(Mobility.HOME)
_FACILITY = np.int8(Mobility.FACILITY)
_AWAY = np.int8(Mobility.AWAY)
_ISO_NONE = np.int8(IsolationStatus.NONE)
_ISO_WAITING = np.int8(IsolationStatus.WAITING)
_ISO_ISOLATED = np.int8(IsolationStatus.ISOLATED)
_ISO_MONITORING = np.int8(IsolationStatus.HOME_MONITORING)
_Q_NONE = np.int8(QuarantineStatus.NONE)
_Q_PENDING = np.int8(QuarantineStatus.PENDING)
_Q_WAITING = np.int8(QuarantineStatus.WAITING_ROOM)
_Q_CENTRAL = np.int8(QuarantineStatus.CENTRAL)
_Q_HOME = np.int8(QuarantineStatus.HOME)
_PENDING_RETEST = np.int8(TestResult.PENDING_RETEST)
_NEGATIVE = np.int8(TestResult.NEGATIVE)
_SEALED = np.int8(ZoneLevel.SEALED)
_CONTROLLED = np.int8(ZoneLevel.CONTROLLED)
_GREEN = np.int8(HealthCode.GREEN)
_YELLOW = np.int8(HealthCode.YELLOW)
_RED = np.int8(HealthCode.RED)


@njit(cache=True, nogil=True, parallel=True)
def resolve_confinement(
    day,
    compartment,
    isolation_status,
    quarantine_status,
    day_quarantine_start,
    test_result,
    consecutive_negatives,
    compound_id,
    district_id,
    compound_zone_level,
    district_count,
    pending_retest_stays_home,
    release_after_negatives,
    is_compliant_today,
    sector,
    exempt_by_sector,
    exempt_seed,
    mobility,
    facility_id,
):
    """Each agent's mobility and facility today: the strictest of what each policy requires.

    Isolated cases -> FACILITY (isolation facility = district id); central quarantine -> FACILITY
    (quarantine hotel = district_count + district id); waiting for a bed or room, home monitoring,
    home quarantine, a pending re-test (if ``pending_retest_stays_home``) -> HOME; sealed compound ->
    HOME (unless ``release_after_negatives`` > 0 and the agent has that many negatives in a row:
    then COMPOUND); controlled compound -> COMPOUND; otherwise FREE. A non-compliant agent
    (``is_compliant_today`` 0) escapes zone and home-quarantine confinement for the day (FREE); cases
    waiting for transfer and contacts waiting for a room stay home. A worker of a sector with an
    ``exempt_by_sector`` share (indexed by Sector code) keeps working through a sealed or controlled
    compound if a hash of (``exempt_seed``, agent) falls below it: the same workers every day. Writes ``mobility`` and
    ``facility_id`` in place (both (n,)); returns nothing. An agent marked AWAY (not in the city:
    see ``zerosim.region``) keeps its mobility; only the region layer sets and clears it.

    Blocks of ``SCAN_BLOCK`` agents that no policy touches today (:func:`_quiet_blocks`: most of a
    contained city) are set FREE without reading each agent's rules.
    """
    n = compartment.size
    quiet = _quiet_blocks(compartment, isolation_status, quarantine_status, test_result, compound_id,
                          compound_zone_level, pending_retest_stays_home, mobility)
    chunk = (n + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        stop = min(n, (c + 1) * chunk)
        base = c * chunk
        while base < stop:
            end = min(stop, (base // SCAN_BLOCK + 1) * SCAN_BLOCK)
            if quiet[base // SCAN_BLOCK]:  # nobody any policy touches: free, in no facility
                for i in range(base, end):
                    mobility[i] = _FREE
                    facility_id[i] = -1
            else:
                _resolve_span(base, end, day, compartment, isolation_status, quarantine_status, day_quarantine_start,
                              test_result, consecutive_negatives, compound_id, district_id, compound_zone_level,
                              district_count, pending_retest_stays_home, release_after_negatives, is_compliant_today,
                              sector, exempt_by_sector, exempt_seed, mobility, facility_id)
            base = end


@njit(cache=True, nogil=True)
def _quiet_blocks(compartment, isolation_status, quarantine_status, test_result, compound_id, compound_zone_level,
                  pending_retest_stays_home, mobility):
    """Per block of ``SCAN_BLOCK`` agents (:func:`resolve_confinement`), whether no policy touches any of
    them today: nobody away, dead, with an isolation or quarantine status or (if it keeps people
    home) a pending re-test, and every compound from the block's lowest to its highest compound id
    neither sealed nor controlled (a block spanning more than 64 compound ids is not quiet). Such
    an agent is FREE and in no facility whatever the other rules say. One serial pass the compiler
    vectorises (it is not vectorised in a prange body); the last, partial block is never quiet.
    """
    n = compartment.size
    full = n // SCAN_BLOCK
    quiet = np.zeros((n + SCAN_BLOCK - 1) // SCAN_BLOCK, dtype=np.bool_)
    pending = np.int8(1 if pending_retest_stays_home else 0)
    for b in range(full):
        base = b * SCAN_BLOCK
        touched = False
        low = compound_id[base]
        high = low
        for j in range(SCAN_BLOCK):
            i = base + j
            touched |= ((mobility[i] == _AWAY) | (compartment[i] == _DEAD) | (isolation_status[i] != _ISO_NONE)
                        | (quarantine_status[i] != _Q_NONE) | ((test_result[i] == _PENDING_RETEST) & (pending == 1)))
            low = min(low, compound_id[i])
            high = max(high, compound_id[i])
        if touched or high - low > 64:
            continue
        free = True
        for k in range(low, high + 1):
            zone = compound_zone_level[k]
            free &= (zone != _SEALED) & (zone != _CONTROLLED)
        quiet[b] = free
    return quiet


@njit(cache=True, nogil=True)
def _resolve_span(start, stop, day, compartment, isolation_status, quarantine_status, day_quarantine_start,
                  test_result, consecutive_negatives, compound_id, district_id, compound_zone_level, district_count,
                  pending_retest_stays_home, release_after_negatives, is_compliant_today, sector, exempt_by_sector,
                  exempt_seed, mobility, facility_id):
    """:func:`resolve_confinement` for agents ``start .. stop - 1``, agent by agent."""
    for i in range(start, stop):
        if mobility[i] == _AWAY:
            continue
        if compartment[i] == _DEAD:
            mobility[i] = _HOME
            facility_id[i] = -1
            continue
        iso = isolation_status[i]
        quarantine = quarantine_status[i]
        if iso == _ISO_ISOLATED:
            mobility[i] = _FACILITY
            facility_id[i] = district_id[i]
            continue
        if quarantine == _Q_CENTRAL:
            mobility[i] = _FACILITY
            facility_id[i] = district_count + district_id[i]
            continue
        facility_id[i] = -1
        level = _FREE
        if iso == _ISO_WAITING or iso == _ISO_MONITORING or quarantine == _Q_WAITING:
            level = _HOME
        elif quarantine == _Q_HOME and day >= day_quarantine_start[i]:
            level = _HOME
        elif pending_retest_stays_home and test_result[i] == _PENDING_RETEST:
            level = _HOME
        zone = compound_zone_level[compound_id[i]]
        if zone == _SEALED:
            if release_after_negatives > 0 and consecutive_negatives[i] >= release_after_negatives:
                level = max(level, _COMPOUND)
            else:
                level = _HOME
        elif zone == _CONTROLLED:
            level = max(level, _COMPOUND)
        if level > _FREE and (zone == _SEALED or zone == _CONTROLLED) and exempt_by_sector[sector[i]] > 0.0 \
                and iso == _ISO_NONE and quarantine == _Q_NONE \
                and hash_uniform(exempt_seed, i, 0, 0) < exempt_by_sector[sector[i]]:
            level = _FREE  # an essential worker with a pass: the zone does not hold them
        if is_compliant_today[i] == 0 and level > _FREE and iso != _ISO_WAITING and quarantine != _Q_WAITING:
            level = _FREE
        mobility[i] = level


@njit(cache=True, nogil=True)
def assign_health_codes(
    day,
    isolation_status,
    quarantine_status,
    day_quarantine_start,
    test_result,
    day_last_swab,
    require_test,
    validity_days,
    health_code,
):
    """Green / yellow / red per agent, written into ``health_code`` (n,) int8.

    Red: a case not yet discharged (waiting or isolated) or a close contact (pending, waiting for a
    room, in central quarantine). Yellow: home quarantine, home monitoring after discharge, a pending
    pooled re-test, or -- when ``require_test`` -- no negative swab within ``validity_days`` days.
    Green otherwise.

    Written without branches (selects and bit operations only), so the compiler vectorises the
    loop: one thread does 5M agents in ~1.5 ms, where a branchy parallel pass took ~10 ms on two.
    """
    n = isolation_status.size
    require = np.int8(1 if require_test else 0)
    day32 = np.int32(day)
    validity = np.int32(validity_days)
    for i in range(n):
        iso = isolation_status[i]
        quarantine = quarantine_status[i]
        result = test_result[i]
        swab = np.int32(day_last_swab[i])
        red = ((iso == _ISO_WAITING) | (iso == _ISO_ISOLATED) | (quarantine == _Q_PENDING) | (quarantine == _Q_WAITING)
               | (quarantine == _Q_CENTRAL))
        negative = (swab >= 0) & (day32 - swab < validity) & (result == _NEGATIVE)
        yellow = (((quarantine == _Q_HOME) & (day32 >= np.int32(day_quarantine_start[i]))) | (iso == _ISO_MONITORING)
                  | (result == _PENDING_RETEST) | ((require == 1) & ~negative))
        health_code[i] = max(np.int8(2) * np.int8(red), np.int8(yellow))  # RED = 2, YELLOW = 1, GREEN = 0


@njit(cache=True, nogil=True)
def tally_facilities(mobility, facility_id, isolation_status, quarantine_status, district_count):
    """Check mode's one pass over confinement (every array (n,)): returns (lowest mobility code, highest
    mobility code, agents whose facility_id is set without mobility FACILITY or the reverse, highest
    facility_id, people in isolation facilities (ids 0..D-1), people in quarantine hotels (ids D..),
    people with isolation status ISOLATED, people with quarantine status CENTRAL)."""
    low, high, mismatched, top = 127, -128, 0, -1
    in_isolation = in_hotels = isolated = central = 0
    for i in range(mobility.size):
        m = mobility[i]
        f = facility_id[i]
        low = min(low, m)
        high = max(high, m)
        top = max(top, f)
        if (m == _FACILITY) != (f >= 0):
            mismatched += 1
        if f >= 0:
            if f < district_count:
                in_isolation += 1
            else:
                in_hotels += 1
        if isolation_status[i] == _ISO_ISOLATED:
            isolated += 1
        if quarantine_status[i] == _Q_CENTRAL:
            central += 1
    return low, high, mismatched, top, in_isolation, in_hotels, isolated, central
