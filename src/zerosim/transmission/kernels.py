"""Transmission layer: the daily force-of-infection kernel and the facility index.

Layer ``transmission`` -- imports numpy, numba, the disease kernels and the population layer's
counter-based random numbers (``hash_uniform``, re-exported here for older imports) only.

Only infectious agents draw contacts, so a day costs in proportion to the number infectious,
not to N. Every random draw is a hash of (call seed, agent, layer, draw index), so the result does
not depend on the order of work or on the thread count.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from zerosim.disease.kernels import COURSE_INFECTIOUS, COURSE_LAST_INFECTIOUS, log10_viral_load
from zerosim.population.counter_rng import hash_uniform, splitmix64  # noqa: F401  (re-exported)
from zerosim.population.kernels import SCAN_BLOCK, SCAN_CHUNKS, blocks_with

#: Layer codes, in the order of the per-layer parameter arrays.
HOUSEHOLD, BUILDING, COMPOUND, WORKPLACE, SCHOOL, COMMUNITY, CITYWIDE, FACILITY = range(8)
LAYER_NAMES = ("household", "building", "compound", "workplace", "school", "community", "citywide", "facility")
LAYER_COUNT = len(LAYER_NAMES)

#: What :func:`transmit` reads of the infected: the disease layer's list (``ids``, first ``count``, with their
#: infectiousness ``scale`` and ``course`` rows) and how viral load makes them infectious.
Spreaders = namedtuple("Spreaders", ["ids", "count", "scale", "course", "include_hospitalised",
                                     "detection_limit_log10", "threshold_log10"])
#: Per layer (index by :data:`LAYER_NAMES`): contact rate, the most confined mobility taking part, the factor
#: for those at home, and whether a green health code is needed.
ContactRules = namedtuple("ContactRules", ["rate", "max_mobility", "home_factor", "requires_green"])
#: Per-agent arrays of the people met (and meeting), and what makes them susceptible. ``day_infected`` and
#: ``infected_by`` are written (the transmission layer owns them).
People = namedtuple("People", [
    "compartment", "day_viral_detectable", "day_viral_peak", "day_viral_clear", "viral_peak_log10",
    "mobility", "health_code", "day_last_swab", "day_infected", "infected_by", "age", "vaccine_doses", "day_last_dose",
    "susceptibility_by_age_band", "vaccine_effectiveness", "vaccine_half_life_days", "waning"])
#: Where people meet: each residential unit's id and start offsets, workplaces and schools (CSR and open
#: flags), and today's facility residents (CSR) with their crowding scale.
Places = namedtuple("Places", [
    "household_id", "household_start", "building_id", "building_start", "compound_id", "compound_start",
    "subdistrict_id", "subdistrict_start", "workplace_id", "workplace_offsets", "workplace_members",
    "workplace_is_open", "school_id", "school_offsets", "school_members", "school_is_open", "facility_id",
    "facility_offsets", "facility_members", "facility_contact_scale"])


@njit(cache=True, nogil=True)
def poisson_from_uniforms(lam, seed, a, b):
    """A Poisson(lam) count from the hash stream (seed, a, b, .): inversion, or normal for lam > 30."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        u1 = max(hash_uniform(seed, a, b, 1_000_001), 1e-300)
        u2 = hash_uniform(seed, a, b, 1_000_002)
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        return max(0, int(lam + math.sqrt(lam) * z + 0.5))
    u = hash_uniform(seed, a, b, 1_000_000)
    k = 0
    p = math.exp(-lam)
    cumulative = p
    while u > cumulative and k < 1000:
        k += 1
        p *= lam / k
        cumulative += p
    return k


@njit(cache=True, nogil=True)
def facility_index(mobility, facility_id, facility_mobility):
    """CSR of today's facility residents: ``(offsets, members)``, offsets over facility ids
    0..max (int64), members (int32) in agent order within each facility. Empty (offsets ``[0]``)
    when nobody's ``mobility`` is ``facility_mobility``.

    Only the blocks of ``SCAN_BLOCK`` agents with a facility id are read agent by agent (few people
    are in a facility: one vectorised pass finds their blocks)."""
    busy = blocks_with(facility_id, np.int32(-1), True)
    top = -1
    for b in range(busy.size):
        if busy[b]:
            for i in range(b * SCAN_BLOCK, min(facility_id.size, (b + 1) * SCAN_BLOCK)):
                top = max(top, facility_id[i])
    if top < 0 or not blocks_with(mobility, facility_mobility, False).any():
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32)
    offsets = np.zeros(top + 2, dtype=np.int64)
    for b in range(busy.size):
        if busy[b]:
            for i in range(b * SCAN_BLOCK, min(facility_id.size, (b + 1) * SCAN_BLOCK)):
                f = facility_id[i]
                if f >= 0:
                    offsets[f + 1] += 1
    for f in range(top + 1):
        offsets[f + 1] += offsets[f]
    members = np.empty(offsets[top + 1], dtype=np.int32)
    position = offsets[:-1].copy()
    for b in range(busy.size):
        if busy[b]:
            for i in range(b * SCAN_BLOCK, min(facility_id.size, (b + 1) * SCAN_BLOCK)):
                f = facility_id[i]
                if f >= 0:
                    members[position[f]] = i
                    position[f] += 1
    return offsets, members


@njit(cache=True, nogil=True)
def waning_table(size, half_life_days):
    """2 ** (-elapsed / half_life_days) for elapsed = 0 .. size - 1 days (float64): the share of vaccine
    protection left, looked up by :func:`transmit` instead of a power per contact (the same expression,
    so the same numbers)."""
    out = np.empty(size, dtype=np.float64)
    for elapsed in range(size):
        out[elapsed] = 2.0 ** (-elapsed / half_life_days)
    return out


@njit(cache=True, nogil=True)
def member_band_counts(age, bands, household_start, workplace_id, school_id):
    """Agents per 10-year age band (last band open-ended): (4, bands) int64 rows of everyone, members
    of a household of two or more, workers and pupils. One pass, no per-agent temporaries."""
    counts = np.zeros((4, bands), dtype=np.int64)
    for h in range(household_start.size - 1):
        lo = household_start[h]
        hi = household_start[h + 1]
        shared = hi - lo >= 2
        for i in range(lo, hi):
            b = min(age[i] // 10, bands - 1)
            counts[0, b] += 1
            if shared:
                counts[1, b] += 1
            if workplace_id[i] >= 0:
                counts[2, b] += 1
            if school_id[i] >= 0:
                counts[3, b] += 1
    return counts


@njit(cache=True, nogil=True)
def transmit(day, seed, spreaders, rules, people, places, out_new, out_count, infections_by_layer):
    """Draw today's infections from the infected in ``spreaders`` (a :class:`Spreaders`: indices ``ids``,
    first ``count``, whose infectiousness scales ``scale`` (float32) and course rows ``course`` (int16,
    columns of :mod:`zerosim.disease.kernels`) are aligned with ``ids``), under ``rules``
    (:class:`ContactRules`), among ``people`` (:class:`People`) in ``places`` (:class:`Places`).

    In each layer L an infectious agent i makes Poisson(rate[L] * w_i) infectious contacts with
    uniformly chosen members of its group (its household, building, compound, workplace, school,
    subdistrict, the whole city, or its facility), where w_i is today's viral-load weight; in a
    facility the rate is multiplied by ``facility_contact_scale[facility]`` (crowding, set by policy).
    A contact happens only if both agents' mobility is at most ``max_mobility[L]`` (and both have
    a green health code where ``requires_green[L]``); an agent confined at HOME also takes part where
    ``home_factor[L]`` > 0 (in the compound layer only on a day it was swabbed, ``day_last_swab``:
    the test queue), making the layer's contacts at ``home_factor[L]`` times its rate, and one reached
    there from outside is met with that probability (sealed flats still share stairwells, lifts and
    test queues); it infects a not-yet-infected target with
    probability = the target's susceptibility (age band x (1 - waning vaccine protection); ``waning``
    is :func:`waning_table` of ``vaccine_half_life_days``, of any length).
    New infections are appended to ``out_new`` from ``out_count``; returns the new count.

    Two steps, so the contacts are drawn on every thread and the result is still that of one
    sequential pass over the active agents in order: :func:`_contact_candidates` lists, per fixed
    chunk of agents, the contacts that would infect (target not infected before today), then they
    are applied in agent order and a target infected earlier today is skipped.
    """
    active_count = spreaders.count
    day_infected, infected_by = people.day_infected, people.infected_by
    chunk_counts = np.zeros(SCAN_CHUNKS, dtype=np.int64)
    capacity = 8
    while True:
        per_chunk = capacity * ((active_count + SCAN_CHUNKS - 1) // SCAN_CHUNKS) + 64
        targets = np.empty(SCAN_CHUNKS * per_chunk, dtype=np.int32)
        sources = np.empty(SCAN_CHUNKS * per_chunk, dtype=np.int32)
        layers = np.empty(SCAN_CHUNKS * per_chunk, dtype=np.int8)
        uniforms = np.empty(SCAN_CHUNKS * per_chunk, dtype=np.float64)
        if _contact_candidates(day, seed, spreaders, rules, people, places, targets, sources, layers, uniforms,
                               per_chunk, chunk_counts):
            break
        capacity *= 4  # a chunk met more would-be infections than it had room for: again, with more room
    # Apply in agent order: the first infector of a target wins, exactly as one sequential pass would.
    count = out_count
    for c in range(SCAN_CHUNKS):
        base = c * per_chunk
        for k in range(base, base + chunk_counts[c]):
            j = targets[k]
            if day_infected[j] >= 0:
                continue  # infected earlier today by an agent before this one
            day_infected[j] = day
            infected_by[j] = sources[k]
            out_new[count] = j
            count += 1
            infections_by_layer[layers[k]] += 1
    return count


@njit(cache=True, nogil=True, inline="always")
def _home_joins(i, layer, day, mobility, home_factor, day_last_swab):
    """Whether agent i, confined at HOME, still takes part in ``layer`` today: where the layer has a
    home factor, and in the compound layer (2) only on a day it queued for a swab."""
    return mobility[i] == 2 and home_factor[layer] > 0.0 and (layer != 2 or day_last_swab[i] == day)


@njit(cache=True, nogil=True, parallel=True)
def _contact_candidates(day, seed, spreaders, rules, people, places, out_targets, out_sources, out_layers,
                        out_uniforms, per_chunk, chunk_counts):
    """The would-be infections of today, per fixed chunk of the active agents, in agent order:
    every contact of :func:`transmit`'s rules that would infect its target if nobody had infected
    the target earlier today (``day_infected`` is only read here). Chunk c first lists all its
    contacts from ``c * per_chunk`` (target, source, layer, the uniform of the infection draw), then
    keeps those that infect, in place; the count goes to ``chunk_counts[c]``. Returns False if a
    chunk ran out of room.
    """
    # the bundles' fields under the names the rules below use (free: tuples are unpacked when compiled)
    active, active_count, infectiousness_scale, course = spreaders.ids, spreaders.count, spreaders.scale, spreaders.course
    include_hospitalised = spreaders.include_hospitalised
    detection_limit_log10, threshold_log10 = spreaders.detection_limit_log10, spreaders.threshold_log10
    rate, max_mobility, home_factor, requires_green = rules.rate, rules.max_mobility, rules.home_factor, rules.requires_green
    compartment, day_viral_detectable, day_viral_peak = people.compartment, people.day_viral_detectable, people.day_viral_peak
    day_viral_clear, viral_peak_log10 = people.day_viral_clear, people.viral_peak_log10
    mobility, health_code, day_last_swab, day_infected = people.mobility, people.health_code, people.day_last_swab, people.day_infected
    age, vaccine_doses, day_last_dose = people.age, people.vaccine_doses, people.day_last_dose
    susceptibility_by_age_band, vaccine_effectiveness = people.susceptibility_by_age_band, people.vaccine_effectiveness
    vaccine_half_life_days, waning = people.vaccine_half_life_days, people.waning
    household_id, household_start, building_id, building_start = (places.household_id, places.household_start,
                                                                  places.building_id, places.building_start)
    compound_id, compound_start, subdistrict_id, subdistrict_start = (places.compound_id, places.compound_start,
                                                                      places.subdistrict_id, places.subdistrict_start)
    workplace_id, workplace_offsets, workplace_members, workplace_is_open = (
        places.workplace_id, places.workplace_offsets, places.workplace_members, places.workplace_is_open)
    school_id, school_offsets, school_members, school_is_open = (places.school_id, places.school_offsets,
                                                                 places.school_members, places.school_is_open)
    facility_id, facility_offsets, facility_members, facility_contact_scale = (
        places.facility_id, places.facility_offsets, places.facility_members, places.facility_contact_scale)
    n = compartment.size
    bands = susceptibility_by_age_band.size
    chunk = (active_count + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    room = np.ones(SCAN_CHUNKS, dtype=np.bool_)
    for c in prange(SCAN_CHUNKS):
        count = c * per_chunk
        stop = count + per_chunk
        for a in range(c * chunk, min(active_count, (c + 1) * chunk)):
            if day < course[a, COURSE_INFECTIOUS] - 1 or day > course[a, COURSE_LAST_INFECTIOUS]:
                continue  # no viral weight today (one day of slack before the first infectious day)
            i = active[a]
            stage = compartment[i]
            if (stage == 5 or stage == 6) and not include_hospitalised:  # SEVERE, CRITICAL: in hospital
                continue
            vl = log10_viral_load(
                day, day_viral_detectable[i], day_viral_peak[i], day_viral_clear[i], viral_peak_log10[i], detection_limit_log10
            )
            weight = (vl - threshold_log10) * infectiousness_scale[a]
            if weight <= 0.0:
                continue
            for layer in range(rate.size):
                if rate[layer] <= 0.0:
                    continue
                if mobility[i] > max_mobility[layer] and not _home_joins(i, layer, day, mobility, home_factor,
                                                                          day_last_swab):
                    continue
                if requires_green[layer] and health_code[i] != 0:
                    continue
                # The group of i in this layer, as a contiguous range [lo, hi) or a CSR slice.
                lo = 0
                hi = 0
                csr = False
                if layer == 0:
                    lo = household_start[household_id[i]]
                    hi = household_start[household_id[i] + 1]
                elif layer == 1:
                    lo = building_start[building_id[i]]
                    hi = building_start[building_id[i] + 1]
                elif layer == 2:
                    lo = compound_start[compound_id[i]]
                    hi = compound_start[compound_id[i] + 1]
                elif layer == 3:
                    w = workplace_id[i]
                    if w < 0 or workplace_is_open[w] == 0:
                        continue
                    lo = workplace_offsets[w]
                    hi = workplace_offsets[w + 1]
                    csr = True
                elif layer == 4:
                    s = school_id[i]
                    if s < 0 or school_is_open[s] == 0:
                        continue
                    lo = school_offsets[s]
                    hi = school_offsets[s + 1]
                    csr = True
                elif layer == 5:
                    lo = subdistrict_start[subdistrict_id[i]]
                    hi = subdistrict_start[subdistrict_id[i] + 1]
                elif layer == 6:
                    lo = 0
                    hi = n
                else:
                    f = facility_id[i]
                    if f < 0 or mobility[i] != 3 or f + 1 >= facility_offsets.size:
                        continue
                    lo = facility_offsets[f]
                    hi = facility_offsets[f + 1]
                    csr = True
                size = hi - lo
                if size < 2:
                    continue
                layer_rate = rate[layer]
                if mobility[i] == 2:  # HOME
                    layer_rate *= home_factor[layer]
                if layer == 7 and facility_id[i] < facility_contact_scale.size:
                    layer_rate *= facility_contact_scale[facility_id[i]]
                draws = poisson_from_uniforms(layer_rate * weight, seed, i, layer)
                for k in range(draws):
                    u = hash_uniform(seed, i, layer, 2 * k)
                    if csr:
                        pick = lo + int(u * size)
                        if layer == 3:
                            j = np.int64(workplace_members[pick])
                        elif layer == 4:
                            j = np.int64(school_members[pick])
                        else:
                            j = np.int64(facility_members[pick])
                        if j == i:
                            continue
                    else:
                        # Uniform among the other size - 1 members of a contiguous range.
                        j = np.int64(lo + int(u * (size - 1)))
                        if j >= i:
                            j += 1
                    # Who the contact is decided here; whether it infects, below for the whole chunk.
                    if count >= stop:
                        room[c] = False
                        break
                    out_targets[count] = j
                    out_sources[count] = i
                    out_layers[count] = layer
                    out_uniforms[count] = hash_uniform(seed, i, layer, 2 * k + 1)
                    count += 1
        # Keep the contacts that infect (target not yet infected, free enough, green where needed,
        # susceptible). Each check reads one more of the target's arrays only if the ones before
        # passed (a third fewer reads of scattered memory than checking all, measured: 1M agents,
        # the peak day of well-mixed, 12.5 -> 8.1 ms); the waning vaccine protection only for the
        # vaccinated.
        kept = c * per_chunk
        for r in range(c * per_chunk, count):
            j = out_targets[r]
            i = out_sources[r]
            layer = out_layers[r]
            infects = day_infected[j] < 0 and (mobility[j] <= max_mobility[layer]
                                               or _home_joins(j, layer, day, mobility, home_factor, day_last_swab))
            if infects and layer == 7:
                infects = facility_id[j] == facility_id[i]
            if infects and requires_green[layer]:
                infects = health_code[j] == 0
            if infects:
                doses = vaccine_doses[j]
                protection = 0.0
                if doses > 0:
                    elapsed = max(day - day_last_dose[j], 0)
                    if elapsed < waning.size:
                        remaining = waning[elapsed]
                    else:
                        remaining = 2.0 ** (-elapsed / vaccine_half_life_days)
                    protection = vaccine_effectiveness[doses] * remaining
                susceptibility = susceptibility_by_age_band[min(age[j] // 10, bands - 1)] * (1.0 - protection)
                if mobility[j] == 2 and mobility[i] != 2:  # met at home from outside
                    susceptibility *= home_factor[layer]
                infects = out_uniforms[r] < susceptibility
            out_targets[kept] = j
            out_sources[kept] = i
            out_layers[kept] = layer
            kept += np.int64(infects)
        count = kept
        chunk_counts[c] = count - c * per_chunk
    return room.all()
